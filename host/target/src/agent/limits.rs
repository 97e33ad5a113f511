//! The agent's connection caps: open connections in all and per client
//! address. A connection over a cap is closed as soon as it is accepted; an
//! admitted one holds a [`Slot`] that frees its place when dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// The open connections, in all and by address.
#[derive(Debug)]
pub struct Connections {
    inner: Arc<Mutex<Counts>>,
}

#[derive(Debug)]
struct Counts {
    max: usize,
    max_per_address: usize,
    open: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// An admitted connection's place; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    inner: Arc<Mutex<Counts>>,
    address: IpAddr,
}

impl Connections {
    pub fn new(max: usize, max_per_address: usize) -> Connections {
        Connections {
            inner: Arc::new(Mutex::new(Counts {
                max,
                max_per_address,
                open: 0,
                by_address: HashMap::new(),
            })),
        }
    }

    /// A place for a connection from `address`, if both caps allow one.
    pub fn admit(&self, address: IpAddr) -> Option<Slot> {
        let mut counts = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let from_address = counts.by_address.get(&address).copied().unwrap_or(0);
        if counts.open >= counts.max || from_address >= counts.max_per_address {
            return None;
        }
        counts.open += 1;
        counts.by_address.insert(address, from_address + 1);
        Some(Slot {
            inner: Arc::clone(&self.inner),
            address,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        counts.open -= 1;
        if let Some(n) = counts.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                counts.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn caps_hold_in_all_and_per_address_and_places_come_back() {
        let c = Connections::new(3, 2);
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let first = c.admit(a).unwrap();
        let _second = c.admit(a).unwrap();
        assert!(c.admit(a).is_none(), "per address");
        let _third = c.admit(b).unwrap();
        assert!(c.admit(b).is_none(), "in all");
        drop(first);
        assert!(c.admit(a).is_some());
    }
}
