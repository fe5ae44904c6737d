//! The embedded backend: one SQLite file (WAL, `synchronous = FULL`, so an
//! acknowledged write survives `kill -9`), used from tokio's blocking pool so
//! SQLite never stalls the async runtime threads. Writes go through one
//! connection; reads through a few others, so that a long read (a listing
//! that expands recurring series) holds up neither writes nor other readers.
//! Every call runs under a deadline ([`crate::calendar::series::budget`]).

mod body_format;
mod events;
mod listing;
mod lookup;
#[cfg(test)]
mod normal_form_tests;
mod rows;

use crate::policy::grant::CalendarRef;
use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::calendar::edits::creation::CreationId;
use crate::calendar::model::{Calendar, Event, EventPatch, Rsvp, SeriesScope};
use crate::calendar::series::budget;
use crate::calendar::time::parse_zone;
use crate::calendar::{BusyMap, CalendarBackend, CalendarError, EventPage, EventQuery};
use crate::config::CalendarSeed;
use crate::telemetry::Backend;

/// The SQLite-backed calendar store.
#[derive(Clone)]
pub struct EmbeddedStore {
    /// The one connection that writes: SQLite serialises writers anyway.
    conn: Arc<Mutex<Connection>>,
    /// Connections that only read. In WAL mode a read transaction sees every
    /// write committed before it began, and neither blocks the other.
    readers: Arc<[Mutex<Connection>]>,
}

/// How many read connections the store keeps.
const READERS: usize = 4;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS calendars (
    id TEXT PRIMARY KEY,
    summary TEXT NOT NULL,
    time_zone TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    calendar_id TEXT NOT NULL REFERENCES calendars(id),
    id TEXT NOT NULL,
    series_id TEXT,
    original_start INTEGER,
    is_series INTEGER NOT NULL,
    start_utc INTEGER NOT NULL,
    end_utc INTEGER NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (calendar_id, id)
);
-- A window's rows in the order a listing pages them: with the start alone
-- SQLite sorted every row of the window, body included, by id.
CREATE INDEX IF NOT EXISTS events_in_order ON events(calendar_id, start_utc, id);
DROP INDEX IF EXISTS events_by_start;
CREATE INDEX IF NOT EXISTS events_by_series ON events(calendar_id, series_id);
-- The series masters alone: every listing expands them, and through
-- events_by_series their query read every row of the calendar.
CREATE INDEX IF NOT EXISTS events_series_masters ON events(calendar_id) WHERE is_series = 1;
";

/// A transaction that only reads: it takes no lock until it reads.
const READ: TransactionBehavior = TransactionBehavior::Deferred;
/// A transaction that writes takes the write lock when it begins. A deferred
/// one would read first and then ask for the lock; when another process
/// sharing the file (a replica) committed in between, SQLite refuses at once
/// with "database is locked", without waiting out the busy timeout.
const WRITE: TransactionBehavior = TransactionBehavior::Immediate;

impl EmbeddedStore {
    /// Opens (creating when missing) the store at `path`, with a `primary`
    /// calendar in `primary_zone` and the declared `calendars`.
    pub fn open(
        path: &Path,
        primary_zone: &str,
        calendars: &[CalendarSeed],
    ) -> anyhow::Result<EmbeddedStore> {
        // Created owner-only before SQLite opens it: SQLite gives the -wal and
        // -shm files the mode of the database file, so none is ever readable
        // by other local users.
        {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(path)?;
        }
        let mut conn = open_connection(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        body_format::add_column(&mut conn)?;
        parse_zone("calendar.time_zone", primary_zone)?;
        conn.execute(
            "INSERT OR IGNORE INTO calendars (id, summary, time_zone) VALUES ('primary', 'Primary', ?1)",
            params![primary_zone],
        )?;
        for seed in calendars {
            parse_zone(
                &format!("calendar.calendars[{}].time_zone", seed.id),
                &seed.time_zone,
            )?;
            conn.execute(
                "INSERT OR IGNORE INTO calendars (id, summary, time_zone) VALUES (?1, ?2, ?3)",
                params![seed.id, seed.name, seed.time_zone],
            )?;
        }
        let rewritten = body_format::normalise(&mut conn)?;
        if rewritten > 0 {
            tracing::info!(rewritten, "stored events rewritten in this build's format");
        }
        let readers = (0..READERS)
            .map(|_| {
                let reader = open_connection(path)?;
                reader.pragma_update(None, "query_only", "ON")?;
                reader.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(Mutex::new(reader))
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(EmbeddedStore {
            conn: Arc::new(Mutex::new(conn)),
            readers: readers.into(),
        })
    }

    /// Runs `work` on the blocking pool inside one transaction (`READ` or
    /// `WRITE`), committed only when it succeeds.
    async fn with_tx<T, F>(&self, mode: TransactionBehavior, work: F) -> Result<T, CalendarError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, CalendarError> + Send + 'static,
    {
        let (writer, readers) = (Arc::clone(&self.conn), Arc::clone(&self.readers));
        let started = std::time::Instant::now();
        let deadline = budget::call_deadline();
        let outcome = tokio::task::spawn_blocking(move || {
            let _deadline = budget::Deadline::start(deadline);
            let mut conn = match mode {
                TransactionBehavior::Deferred => free_reader(&readers),
                _ => writer.lock(),
            }
            .map_err(|_| CalendarError::Backend("store lock poisoned".into()))?;
            if budget::past_deadline() {
                return Err(CalendarError::Unavailable(format!(
                    "the calendar store was busy for {} s; nothing was changed, try again",
                    budget::CALL_TIME.as_secs()
                )));
            }
            let tx = conn.transaction_with_behavior(mode).map_err(db_error)?;
            let value = work(&tx)?;
            tx.commit().map_err(db_error)?;
            Ok(value)
        })
        .await
        .map_err(|e| CalendarError::Backend(format!("store task failed: {e}")));
        crate::telemetry::backend_call(Backend::Embedded, started.elapsed());
        outcome?
    }
}

/// A connection to the store file whose statements keep their plan.
///
/// Without the query planner stability guarantee, SQLite marks a statement
/// whose plan could depend on a bound value (`calendar_id = ?1` with an
/// `ORDER BY`) to be re-planned when that value is rebound, and rusqlite
/// clears the bindings of every cached statement it takes back: the listing
/// statement was parsed and planned again on every call (~170k
/// instructions). With no `ANALYZE` statistics the plan never depended on
/// the values anyway.
fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(conn)
}

/// A read connection no other call holds, or (all busy) the one whose turn it is.
fn free_reader(
    readers: &[Mutex<Connection>],
) -> std::sync::LockResult<std::sync::MutexGuard<'_, Connection>> {
    static TURN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    for reader in readers {
        if let Ok(guard) = reader.try_lock() {
            return Ok(guard);
        }
    }
    let turn = TURN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    readers[turn % readers.len()].lock()
}

/// Maps a SQLite failure to a backend error; the detail is logged, not shown.
/// A disk that cannot take the write is named (SQLite rolled the write back,
/// so the client may retry); any other failure stays generic, its detail logged.
pub(crate) fn db_error(e: rusqlite::Error) -> CalendarError {
    tracing::error!(error = %e, "embedded store error");
    let disk = match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => "its disk is full",
        Some(rusqlite::ErrorCode::ReadOnly) => "it is read-only",
        Some(rusqlite::ErrorCode::SystemIoFailure) => "its disk fails",
        _ => return CalendarError::Backend(e.to_string()),
    };
    CalendarError::Unavailable(format!(
        "the calendar store cannot write: {disk}; nothing was changed, try again later"
    ))
}

/// Loads one calendar or says which id is unknown.
pub(crate) fn load_calendar(conn: &Connection, id: &str) -> Result<Calendar, CalendarError> {
    // Cached: every tool call reads its calendar, a listing twice.
    conn.prepare_cached("SELECT id, summary, time_zone FROM calendars WHERE id = ?1")
        .map_err(db_error)?
        .query_row(params![id], |r| {
            Ok(Calendar {
                id: r.get(0)?,
                summary: r.get(1)?,
                time_zone: r.get(2)?,
                color: None,
            })
        })
        .optional()
        .map_err(db_error)?
        .ok_or_else(|| CalendarError::calendar_not_found(id))
}

#[async_trait]
impl CalendarBackend for EmbeddedStore {
    async fn list_calendars(&self) -> Result<Vec<Calendar>, CalendarError> {
        self.with_tx(READ, |tx| {
            let mut stmt = tx
                .prepare(
                    "SELECT id, summary, time_zone FROM calendars ORDER BY id != 'primary', id",
                )
                .map_err(db_error)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(Calendar {
                        id: r.get(0)?,
                        summary: r.get(1)?,
                        time_zone: r.get(2)?,
                        color: None,
                    })
                })
                .map_err(db_error)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_error)
        })
        .await
    }

    async fn get_calendar(&self, calendar: &CalendarRef) -> Result<Calendar, CalendarError> {
        let calendar_id = calendar.id();
        let id = calendar_id.to_owned();
        self.with_tx(READ, move |tx| load_calendar(tx, &id)).await
    }

    async fn list_events(
        &self,
        calendar: &CalendarRef,
        query: EventQuery,
    ) -> Result<EventPage, CalendarError> {
        let calendar_id = calendar.id();
        let id = calendar_id.to_owned();
        self.with_tx(READ, move |tx| listing::list(tx, &id, &query))
            .await
    }

    async fn get_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        let (cal, id) = (calendar_id.to_owned(), event_id.to_owned());
        self.with_tx(READ, move |tx| lookup::get(tx, &cal, &id))
            .await
    }

    async fn create_event(
        &self,
        calendar: &CalendarRef,
        fields: EventPatch,
        creation: Option<CreationId>,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        let cal = calendar_id.to_owned();
        self.with_tx(WRITE, move |tx| {
            events::create(tx, &cal, fields, creation.as_ref())
        })
        .await
    }

    async fn update_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        patch: EventPatch,
        scope: Option<SeriesScope>,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        let (cal, id) = (calendar_id.to_owned(), event_id.to_owned());
        self.with_tx(WRITE, move |tx| events::update(tx, &cal, &id, patch, scope))
            .await
    }

    async fn delete_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        scope: Option<SeriesScope>,
    ) -> Result<(), CalendarError> {
        let calendar_id = calendar.id();
        let (cal, id) = (calendar_id.to_owned(), event_id.to_owned());
        self.with_tx(WRITE, move |tx| events::delete(tx, &cal, &id, scope))
            .await
    }

    async fn respond_to_event(
        &self,
        calendar: &CalendarRef,
        event_id: &str,
        attendee_email: &str,
        answer: Rsvp,
        comment: Option<String>,
    ) -> Result<Event, CalendarError> {
        let calendar_id = calendar.id();
        let (cal, id, email) = (
            calendar_id.to_owned(),
            event_id.to_owned(),
            attendee_email.to_owned(),
        );
        self.with_tx(WRITE, move |tx| {
            events::respond(tx, &cal, &id, &email, answer, comment)
        })
        .await
    }

    async fn free_busy(
        &self,
        calendars: &[CalendarRef],
        time_min: DateTime<Utc>,
        time_max: DateTime<Utc>,
    ) -> Result<BusyMap, CalendarError> {
        let calendar_ids: Vec<String> = calendars.iter().map(|c| c.id().to_owned()).collect();
        let calendar_ids = calendar_ids.as_slice();
        let ids = calendar_ids.to_vec();
        self.with_tx(READ, move |tx| listing::busy(tx, &ids, time_min, time_max))
            .await
    }
}
