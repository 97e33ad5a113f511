//! How a dsrestore client authenticates an agent before it says who it is.
//!
//! Every agent connection is TLS 1.3. A client trusts an agent either by a
//! pinned SHA-256 fingerprint of its certificate ([`Fingerprint`]) or by a
//! CA file; plaintext only when the client opts in explicitly
//! ([`Trust::InsecurePlaintext`]). The trust of a server may ride in its name
//! (`tcp://host:port#sha256:<hex>`, see [`Trust::parse`]), so the one string
//! an agent prints at start is all a client needs.
//!
//! [`connect`] finishes the handshake, and with it the check of the agent's
//! certificate, before it returns a stream: nothing the caller writes (the
//! identity, the password) can reach an agent that was not authenticated.
//! The crate takes the crypto provider from its caller: ring natively, a
//! pure-Rust provider in the wasm transport.

mod connect;
mod fingerprint;
mod trust;
mod verify;

pub use connect::{connect, probe, AgentStream};
pub use fingerprint::Fingerprint;
pub use rustls;
pub use trust::{is_loopback, Trust};
