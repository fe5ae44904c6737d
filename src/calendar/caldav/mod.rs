//! The CalDAV backend (RFC 4791): `[backend.caldav]`. Each configured
//! account becomes a [`CalDavAccount`]; [`CalDavAccounts`] maps every client
//! identity to the one account it acts as, so a client reaches that
//! account's calendars and nothing else.
//!
//! - [`backend`]: the tools' operations; [`account`]: finding and reading
//!   objects (event ids looked up among the names the server listed);
//!   [`writes`] and [`series_writes`]: writes, each conditional on the
//!   entity tag; [`collections`]: calendar ids looked up among the
//!   collections discovery found.
//! - [`dav`]: the HTTP side — one client per account, Basic authentication,
//!   a deadline per request, answers bounded in size, requests kept on the
//!   account's server.
//! - [`multistatus`]: reading WebDAV `multistatus` answers.
//! - [`discovery`]: from the configured URL to the account's principal, its
//!   calendar home and the calendars in it that hold events; [`failure`]:
//!   what a failed exchange or status becomes for the tool caller.
//! - [`objects`]: the calendar object resources with an event in a time
//!   range, and conditional writes and deletes (entity tags); [`expand`]:
//!   the events of a window from them, series expanded by the gateway's own
//!   engine with their overrides and cancellations.
//! - [`content`]: an iCalendar object kept line by line, so that an edit
//!   rewrites only what it changes; [`ical`]: the values of the properties
//!   the backend reads (parameters, TEXT, DATE and DATE-TIME); [`vevent`]:
//!   a calendar object resource read into the event model (the series and
//!   its overridden occurrences); [`compose`]: the model written as
//!   iCalendar, a new object with the `VTIMEZONE`s `calcard` builds;
//!   [`edit`]: an update written into an existing object, the series or one
//!   occurrence's override, touching only the properties the patch sets.
//!
//! Crates: `calcard` (Stalwart's iCalendar library) builds `VTIMEZONE`s from
//! the zone database; its writer normalises what it writes (an `RRULE`'s
//! parts reordered), so objects are edited line by line here instead.
//! Why the requests are by hand and not `libdav`: its requests run over a service whose
//! answers must be hyper's own body type, read whole with no size bound, so
//! a server answering gigabytes would be held in memory; the requests the
//! backend needs are few, and `roxmltree` reads their answers.

pub mod account;
pub mod backend;
pub mod collections;
pub mod compose;
pub mod content;
pub mod dav;
pub mod discovery;
pub mod edit;
pub mod expand;
pub mod failure;
pub mod ical;
pub mod multistatus;
pub mod objects;
pub mod series_writes;
pub mod vevent;
pub mod writes;

use std::collections::BTreeMap;
use std::sync::Arc;

use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use crate::calendar::accounts::ClientAccounts;
use crate::calendar::caldav::account::CalDavAccount;
use crate::calendar::caldav::collections::Collections;
use crate::calendar::caldav::dav::{DavClient, DavSettings};
use crate::calendar::retry::RetryPolicy;
use crate::calendar::{CalendarAccounts, CalendarBackend, CalendarError};
use crate::config::caldav::CalDav;

/// Client identity → the CalDAV account it acts as.
pub struct CalDavAccounts(ClientAccounts<CalDavAccount>);

impl CalDavAccounts {
    /// Prepares every configured account (no request reaches a server yet:
    /// calendars are discovered at the first call).
    pub fn new(config: &CalDav) -> anyhow::Result<CalDavAccounts> {
        let policy = RetryPolicy {
            timeout: config.request_timeout,
            max_attempts: config.max_attempts,
            deadline: config.retry_deadline,
            base_delay: config.retry_base_delay,
        };
        let default_zone = config
            .time_zone
            .parse()
            .map_err(|_| anyhow::anyhow!("backend.caldav.time_zone: not a time zone"))?;
        let mut accounts = BTreeMap::new();
        for (name, account) in &config.accounts {
            let identity = match &config.client_identity {
                Some((chain, key)) => Some((
                    chain.clone(),
                    PrivateKeyDer::from_pem_slice(key.expose().as_bytes()).map_err(|_| {
                        anyhow::anyhow!("backend.caldav.client_private_key: not a PEM private key")
                    })?,
                )),
                None => None,
            };
            let url: http::Uri = account
                .url
                .parse()
                .map_err(|_| anyhow::anyhow!("backend.caldav.accounts.{name}.url: not a URL"))?;
            let start = url.path().to_owned();
            let client = DavClient::new(DavSettings {
                url,
                credentials: account
                    .credentials
                    .as_ref()
                    .map(|(user, password)| (user.clone(), password.expose().clone())),
                roots: config.roots.clone(),
                identity,
                policy,
            })
            .map_err(|e| anyhow::anyhow!("backend.caldav.accounts.{name}: {e}"))?;
            let collections = Collections::new(name, &start, account.primary.clone(), default_zone);
            accounts.insert(
                name.clone(),
                Arc::new(CalDavAccount::new(name, client, &start, collections)),
            );
        }
        Ok(CalDavAccounts(ClientAccounts::new(
            ("CalDAV", "backend.caldav"),
            accounts,
            &config.clients,
            config.default_account.as_ref(),
        )))
    }
}

#[async_trait::async_trait]
impl CalendarAccounts for CalDavAccounts {
    /// Every account's server answers a `PROPFIND` of where discovery
    /// starts; a status of any kind counts (the server is up).
    async fn probe(&self) -> Result<(), String> {
        for account in self.0.all.values() {
            account.probe().await?;
        }
        Ok(())
    }

    fn for_client(&self, client_id: &str) -> Result<Arc<dyn CalendarBackend>, CalendarError> {
        self.0.for_client(client_id)
    }
}
