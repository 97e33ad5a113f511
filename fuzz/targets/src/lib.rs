//! The bodies of dsrestore's fuzz targets, one function per decoder or
//! validator: `fuzz/` runs each under cargo-fuzz (libFuzzer, nightly), and
//! `tests/corpus.rs` replays the checked-in corpus through the same
//! functions on stable, so CI runs every input that ever mattered.
//!
//! Each function takes the fuzzer's bytes and panics only on a real bug: a
//! decoder that panics, a round trip that changes a value, a reply that is
//! not a reply, an error without a code, a binding left open.

mod config_file;
mod guest_host;
mod hostile_server;
mod registration_paths;
mod round_trip;
mod target_server;

pub use config_file::config_file;
pub use guest_host::guest_under_a_fuzzing_host;
pub use hostile_server::client_under_a_hostile_server;
pub use registration_paths::registration_paths;
pub use round_trip::messages_round_trip;
pub use target_server::target_serving_requests;

use dsrestore_protocol::{decode, encode, handshake, Request, ServerName};
use dsrestore_set_format::token::ExpiryToken;
use dsrestore_set_format::Manifest;

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every fuzz target by name, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("request", request),
    ("target_server", target_serving_requests),
    ("hostile_server", client_under_a_hostile_server),
    ("handshake", handshake),
    ("expiry_token", expiry_token),
    ("manifest", manifest),
    ("set_stream", set_stream),
    ("server_name", server_name),
    ("users_file", users_file),
    ("round_trip", messages_round_trip),
    ("registration_paths", registration_paths),
    ("config_file", config_file),
    ("guest_host", guest_under_a_fuzzing_host),
];

/// A protocol request as the target decodes it: decoding never panics, and
/// what decodes encodes back to the same request.
pub fn request(data: &[u8]) {
    if let Ok(request) = decode::<Request>(data) {
        let again: Request = decode(&encode(&request)).expect("an encoded request decodes");
        assert_eq!(again, request);
    }
}

/// The agent's first frame (the authentication, before anyone is known)
/// and the client's view of the agent's answer to it.
pub fn handshake(data: &[u8]) {
    if let Ok(credentials) = handshake::credentials_of("agent", data) {
        let again =
            handshake::credentials_of("agent", &handshake::hello(Some(credentials.clone())))
                .expect("an encoded hello decodes");
        assert!(again == credentials, "credentials changed in a round trip");
    }
    if let Err(e) = handshake::welcome_of("agent", data) {
        assert_ne!(e.code, 0, "an error without a code: {e}");
    }
}

/// The expiry token: decoding never panics, and a decoded token encodes to
/// the bytes it came from (the token is checksummed and has one encoding).
pub fn expiry_token(data: &[u8]) {
    if let Ok(token) = ExpiryToken::decode(data) {
        assert_eq!(token.encode(), data);
    }
}

/// A set's manifest: parsing never panics, and a parsed manifest written
/// back parses to the same manifest.
pub fn manifest(data: &[u8]) {
    if let Ok(manifest) = Manifest::parse(data, "fuzz") {
        let again =
            Manifest::parse(&manifest.to_json(), "again").expect("a written manifest parses");
        assert_eq!(again, manifest);
    }
}

/// A set stream: reading it never panics, and one that verifies holds at
/// least the bytes its manifest lists.
pub fn set_stream(data: &[u8]) {
    if let Ok(manifest) = dsrestore_workflow::stream::verify(data, &mut |_| {}) {
        assert!(manifest.total_bytes() <= data.len() as u64);
    }
}

/// Server names, as the CLI, the guest and the transports read them, and
/// the trust in a name's `#...`.
pub fn server_name(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match ServerName::parse(text) {
        ServerName::Tcp { address, trust } => {
            assert!(text.contains(address));
            if let Some(trust) = trust {
                let _ = dsrestore_tls::Trust::parse(trust);
            }
        }
        ServerName::Local { dir } => assert!(text.contains(dir)),
        ServerName::Other(_) => {}
    }
    if let Ok(normal) = dsrestore_client::server_name::normalize(text) {
        assert_eq!(
            dsrestore_client::server_name::normalize(&normal).as_deref(),
            Ok(normal.as_str()),
            "normalizing is idempotent"
        );
    }
}

/// The agent's users file.
pub fn users_file(data: &[u8]) {
    if let Ok(users) = dsrestore_target::agent::Users::parse(data, "fuzz") {
        let _ = users.len();
    }
}
