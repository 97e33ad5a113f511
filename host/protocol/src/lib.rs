//! The dsrestore wire protocol: the messages a restore client (the guest) and a
//! restore target exchange over a binding, their CBOR codec, and the result
//! codes both sides use.
//!
//! One definition serves both ends: the guest (built for wasm32-wasip2) and the
//! host's target depend on this crate. It is `no_std` + `alloc` so it stays small
//! inside the component. `docs/protocol.md` describes the same format for
//! implementers in other languages.
#![no_std]

extern crate alloc;

pub mod codec;
pub mod codes;
pub mod framing;
pub mod messages;

pub use codec::{decode, encode, DecodeError};
pub use messages::*;
pub use serde_bytes::ByteBuf;
