//! Client identity → the backend account it acts as, for the backends with
//! accounts (Google, CalDAV): each client reaches the one account it is
//! mapped to (or the default one), and nothing when there is neither.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::calendar::{CalendarBackend, CalendarError};

/// The accounts of one backend, and which client acts as which.
pub struct ClientAccounts<A> {
    /// Every account, by its configured name.
    pub all: BTreeMap<String, Arc<A>>,
    by_client: BTreeMap<String, Arc<A>>,
    default: Option<Arc<A>>,
    /// `Google`, `CalDAV`: for the refusal's message.
    kind: &'static str,
    /// `backend.google`...: the table that maps clients.
    table: &'static str,
}

impl<A: CalendarBackend + 'static> ClientAccounts<A> {
    /// `accounts` mapped by `clients` (client → account name), with
    /// `default` for clients not listed; names without an account are
    /// left out (validation has reported them already).
    pub fn new(
        (kind, table): (&'static str, &'static str),
        accounts: BTreeMap<String, Arc<A>>,
        clients: &BTreeMap<String, String>,
        default: Option<&String>,
    ) -> ClientAccounts<A> {
        let by_client = clients
            .iter()
            .filter_map(|(client, name)| Some((client.clone(), Arc::clone(accounts.get(name)?))))
            .collect();
        let default = default.and_then(|name| accounts.get(name).cloned());
        ClientAccounts {
            all: accounts,
            by_client,
            default,
            kind,
            table,
        }
    }

    /// The account `client_id` acts as, or why there is none.
    pub fn for_client(&self, client_id: &str) -> Result<Arc<dyn CalendarBackend>, CalendarError> {
        let account = self
            .by_client
            .get(client_id)
            .or(self.default.as_ref())
            .ok_or_else(|| {
                CalendarError::PermissionDenied(format!(
                    "no {} account is mapped to client `{client_id}` ({}.clients)",
                    self.kind, self.table
                ))
            })?;
        Ok(Arc::clone(account) as Arc<dyn CalendarBackend>)
    }
}
