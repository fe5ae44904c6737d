//! The CalDAV backend (RFC 4791), in progress: [`content`] keeps an
//! iCalendar object line by line so that an edit rewrites only what it
//! changes.

pub mod content;
