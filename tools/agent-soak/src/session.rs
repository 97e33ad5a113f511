//! One client of the load: a TLS connection, authenticated once, then
//! restricted sessions (restore-prepare without a token, database-locations,
//! restore-end) and is-ntds-online in a loop until the run's deadline.
//!
//! Every reply is decoded as the type its request expects and compared with
//! what this client must see. A reply meant for another client shows up as
//! one of: a payload of another type, a session id some other restricted
//! session already had, a full restore's session (`restricted: false`), or
//! locations other than the target's.

use std::collections::HashSet;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dsrestore_protocol::handshake::{Credentials, FramedClient};
use dsrestore_protocol::{decode, encode, framing::MAX_FRAME_BYTES, Location, Prepared};
use dsrestore_protocol::{HelloOk, Reply, Request, PROTOCOL_VERSIONS};
use dsrestore_tls::rustls::crypto::CryptoProvider;
use dsrestore_tls::{AgentStream, Trust};
use serde::de::DeserializeOwned;

/// What every client shares: where the agent is, the expected answers, and
/// the counters of the run.
pub struct Shared {
    pub server: String,
    pub address: std::net::SocketAddr,
    pub trust: Trust,
    pub credentials: Credentials,
    pub provider: Arc<CryptoProvider>,
    /// The target's locations, as the first session saw them.
    pub locations: Mutex<Option<Vec<Location>>>,
    /// Every restricted session id seen so far (ids are never reused).
    pub sessions_seen: Mutex<HashSet<u64>>,
    /// Set when the load should stop.
    pub stop: AtomicBool,
    pub counts: Counts,
}

#[derive(Default)]
pub struct Counts {
    pub connected: AtomicU64,
    pub sessions: AtomicU64,
    pub is_online: AtomicU64,
    pub errors: AtomicU64,
    pub crossed: AtomicU64,
    /// The slowest call, in microseconds.
    pub slowest_call_us: AtomicU64,
    /// The first errors, with what was going on.
    pub first_errors: Mutex<Vec<String>>,
}

impl Shared {
    /// Counts an error of `client`; the first 20 are kept for the report.
    pub fn error(&self, client: usize, what: String) {
        self.counts.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = self.counts.first_errors.lock().unwrap();
        if first.len() < 20 {
            first.push(format!("client {client}: {what}"));
        }
    }

    fn crossed(&self, client: usize, what: String) {
        self.counts.crossed.fetch_add(1, Ordering::Relaxed);
        self.error(
            client,
            format!("a reply that is not this session's: {what}"),
        );
    }
}

/// A client's authenticated connection.
pub struct Client {
    index: usize,
    framed: FramedClient<AgentStream>,
}

impl Client {
    /// Connects and authenticates (TLS, pinned certificate, password).
    pub fn connect(shared: &Shared, index: usize) -> Result<Client, String> {
        let tcp = TcpStream::connect(shared.address).map_err(|e| format!("connect: {e}"))?;
        let timeout = Some(Duration::from_secs(120));
        tcp.set_nodelay(true)
            .and_then(|()| tcp.set_read_timeout(timeout))
            .and_then(|()| tcp.set_write_timeout(timeout))
            .map_err(|e| format!("socket options: {e}"))?;
        let stream =
            dsrestore_tls::connect(tcp, &shared.server, &shared.trust, shared.provider.clone())
                .map_err(|e| format!("TLS: {e}"))?;
        let (framed, _) = FramedClient::authenticate(
            stream,
            &shared.server,
            Some(shared.credentials.clone()),
            MAX_FRAME_BYTES,
        )
        .map_err(|e| format!("authenticate: {e}"))?;
        let mut client = Client { index, framed };
        let hello = Request::Hello {
            versions: PROTOCOL_VERSIONS.to_vec(),
            client: "agent-soak".into(),
        };
        let raw = client
            .framed
            .call(&encode(&hello))
            .map_err(|e| format!("hello: {e}"))?;
        match decode::<Reply<HelloOk>>(&raw) {
            Ok(Reply::Ok(_)) => {}
            Ok(Reply::Err(e)) => return Err(format!("hello: {e}")),
            Err(e) => return Err(format!("hello: {e}")),
        }
        shared.counts.connected.fetch_add(1, Ordering::Relaxed);
        Ok(client)
    }

    /// Sends `request` and decodes its reply as `T`; a failure or a reply
    /// of another shape is an error (the latter a crossed reply).
    fn call<T: DeserializeOwned>(&mut self, shared: &Shared, request: &Request) -> Option<T> {
        let started = Instant::now();
        let raw = self.framed.call(&encode(request));
        let took = started.elapsed().as_micros() as u64;
        shared
            .counts
            .slowest_call_us
            .fetch_max(took, Ordering::Relaxed);
        let op = request.op();
        match raw {
            Err(e) => shared.error(self.index, format!("{op}: {e}")),
            Ok(raw) => match decode::<Reply<T>>(&raw) {
                Ok(Reply::Ok(value)) => return Some(value),
                Ok(Reply::Err(e)) => shared.error(self.index, format!("{op}: {e}")),
                Err(e) => shared.crossed(self.index, format!("{op}: {e}")),
            },
        }
        None
    }

    /// One restricted session: prepare, locations, end. False on an error.
    pub fn restricted_session(&mut self, shared: &Shared) -> bool {
        let prepare = Request::RestorePrepare {
            flags: 0,
            expiry_token: None,
            to_other_server: false,
        };
        let Some(prepared) = self.call::<Prepared>(shared, &prepare) else {
            return false;
        };
        if !prepared.restricted {
            shared.crossed(self.index, format!("{prepared:?} is a full restore's"));
            return false;
        }
        if !shared
            .sessions_seen
            .lock()
            .unwrap()
            .insert(prepared.session)
        {
            shared.crossed(
                self.index,
                format!("session {} was seen before", prepared.session),
            );
            return false;
        }
        let Some(locations) = self.call::<Vec<Location>>(shared, &Request::DatabaseLocations)
        else {
            return false;
        };
        {
            let mut expected = shared.locations.lock().unwrap();
            let expected = expected.get_or_insert_with(|| locations.clone());
            if *expected != locations {
                shared.crossed(
                    self.index,
                    format!("locations {locations:?}, not {expected:?}"),
                );
                return false;
            }
        }
        if self.call::<()>(shared, &Request::RestoreEnd).is_none() {
            return false;
        }
        shared.counts.sessions.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// is-ntds-online, which must say false: the target stays offline.
    pub fn is_online(&mut self, shared: &Shared) -> bool {
        match self.call::<bool>(shared, &Request::IsNtdsOnline) {
            Some(false) => {
                shared.counts.is_online.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(true) => {
                shared.error(
                    self.index,
                    "is-ntds-online said true of an offline target".into(),
                );
                false
            }
            None => false,
        }
    }

    /// The load: sessions and is-online until told to stop. A client stops
    /// at its first error (its connection may be out of step).
    pub fn run(mut self, shared: &Shared) {
        while !shared.stop.load(Ordering::Relaxed) {
            if !self.restricted_session(shared) || !self.is_online(shared) {
                return;
            }
        }
    }
}
