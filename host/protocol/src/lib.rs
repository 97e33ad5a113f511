//! The dsrestore wire protocol: the messages a restore client (the guest) and a
//! restore target exchange over a binding, their CBOR codec, and the result
//! codes both sides use.
//!
//! One definition serves both ends: the guest (built for wasm32-wasip2) and the
//! host's target depend on this crate. It is `no_std` + `alloc` so it stays small
//! inside the component. `docs/protocol.md` describes the same format for
//! implementers in other languages.
//!
//! With the `std` feature it also carries the blocking frame I/O and the
//! client's side of the agent's handshake ([`handshake::FramedClient`]).
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod codec;
pub mod codes;
mod error;
pub mod framing;
pub mod handshake;
pub mod messages;
pub mod server_name;
mod wit_conversions;

pub use codec::{decode, encode, DecodeError};
pub use error::Error;
pub use messages::*;
pub use serde_bytes::ByteBuf;
pub use server_name::ServerName;
