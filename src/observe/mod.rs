//! Where lines go: the security log ([`seclog`], one line per refusal, which
//! fail2ban reads), the audit log ([`audit`], one line per tool call), the
//! files or streams behind both ([`logsink`]), whether they can take a line
//! ([`readiness`]), and how a client's text is written into any of them
//! ([`escape`]).

pub mod audit;
pub mod escape;
pub mod logsink;
pub mod readiness;
pub mod seclog;
