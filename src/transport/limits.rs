//! Connections per client address: one address may hold at most
//! `listen.max_connections_per_address` at once, so a single client (or one
//! stolen certificate) cannot take every slot of `listen.max_connections`.
//! Counted on the real client address, after the PROXY header, before TLS.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::denial::{Denial, Reason};

/// Open connections per client address.
#[derive(Debug)]
pub struct AddressSlots {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection counted against its address; released when dropped.
#[derive(Debug)]
pub struct AddressSlot {
    slots: Arc<AddressSlots>,
    ip: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

impl AddressSlots {
    /// At most `max` connections per address.
    pub fn new(max: usize) -> Arc<AddressSlots> {
        Arc::new(AddressSlots {
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one more connection from `ip`, or refuses it past the cap.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Result<AddressSlot, Denial> {
        let mut open = self.lock();
        let count = open.entry(ip).or_default();
        if *count >= self.max {
            return Err(
                Denial::new(Reason::TooManyConnections).with_detail(format!("{} open", self.max))
            );
        }
        *count += 1;
        Ok(AddressSlot {
            slots: Arc::clone(self),
            ip,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{AddressSlots, Reason};

    #[test]
    fn each_address_has_its_own_cap() {
        let slots = AddressSlots::new(2);
        let a = "10.0.0.1".parse().unwrap();
        let b = "10.0.0.2".parse().unwrap();
        let first = slots.take(a).unwrap();
        let _second = slots.take(a).unwrap();
        assert_eq!(
            slots.take(a).unwrap_err().reason,
            Reason::TooManyConnections
        );
        assert!(slots.take(b).is_ok());
        drop(first);
        assert!(slots.take(a).is_ok());
    }
}
