//! `binding-transport` over TCP (wasi:sockets, through Rust's std::net on
//! wasm32-wasip2) and TLS 1.3 (rustls with a pure-Rust provider): reaches
//! `tcp://host:port#<trust>` agents with the agent's framing and
//! authentication (docs/protocol.md). The agent is authenticated by the
//! trust in the server's name (`#sha256:<hex>`, `#ca-file=<path>` or
//! `#insecure-plaintext`) before the identity is sent; a name without one is
//! refused. Composed in front of the guest, it lets the stock `wasmtime` CLI
//! run dsrestore (`-S inherit-network=y`).
#![cfg_attr(not(target_family = "wasm"), allow(dead_code))]

wit_bindgen::generate!({
    inline: "package dsrestore:tcp-transport;
             world transport {
                 export dsrestore:backup/types@0.1.0;
                 export dsrestore:backup/binding-transport@0.1.0;
             }",
    path: "../../wit",
    world: "dsrestore:tcp-transport/transport",
    generate_all,
});

use std::cell::RefCell;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use dsrestore_protocol::framing::MAX_FRAME_BYTES;
use dsrestore_protocol::handshake::{Credentials, FramedClient};
use dsrestore_protocol::{codes, ServerName};
use dsrestore_tls::{AgentStream, Trust};
use exports::dsrestore::backup::binding_transport::{Binding, Guest, GuestBinding};
use exports::dsrestore::backup::types::{AuthIdentity, Error};

struct Transport;

/// Put-data requests in flight at most before their replies are read.
const PUT_DATA_WINDOW: usize = 8;

/// One authenticated connection to an agent.
struct Connection {
    client: RefCell<FramedClient<AgentStream>>,
}

fn wit(e: dsrestore_protocol::Error) -> Error {
    Error {
        code: e.code,
        message: e.message,
    }
}

/// rustls-rustcrypto's provider with ChaCha20-Poly1305 offered first. In wasm
/// AES-GCM runs in software (no AES instructions reach the guest) and cost a
/// 256 MiB restore through an agent 4 of its 5.5 s; ChaCha20-Poly1305 is built
/// for software. The agent takes the client's order (rustls' default), and
/// native clients, which have AES instructions, still offer AES-GCM first.
fn provider() -> dsrestore_tls::rustls::crypto::CryptoProvider {
    use dsrestore_tls::rustls::CipherSuite;
    let mut provider = rustls_rustcrypto::provider();
    provider
        .cipher_suites
        .sort_by_key(|s| s.suite() != CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
    provider
}

impl Guest for Transport {
    type Binding = Connection;
}

impl GuestBinding for Connection {
    fn open(server: String, identity: Option<AuthIdentity>) -> Result<Binding, Error> {
        let could_not_connect = |why: String| Error {
            code: codes::HR_COULD_NOT_CONNECT,
            message: format!("{server}: {why}"),
        };
        let ServerName::Tcp { address, .. } = ServerName::parse(&server) else {
            return Err(could_not_connect(
                "this transport reaches only tcp://host:port agents".into(),
            ));
        };
        let Some(trust) = Trust::of_server(&server).map_err(wit)? else {
            return Err(Error {
                code: codes::SEC_E_UNTRUSTED_ROOT,
                message: format!(
                    "{server}: no way to authenticate this agent is set, so nothing was sent: \
                     give --pin sha256:<fingerprint> (the agent prints it at start) or --ca-file"
                ),
            });
        };
        let tcp = TcpStream::connect(address)
            .map_err(|e| could_not_connect(format!("could not connect: {e}")))?;
        let _ = tcp.set_nodelay(true);
        let provider = Arc::new(provider());
        let stream = dsrestore_tls::connect(tcp, &server, &trust, provider).map_err(wit)?;
        let credentials = identity.map(|id| Credentials {
            user: id.user,
            domain: id.domain,
            password: id.password,
        });
        let (client, _) = FramedClient::authenticate(stream, &server, credentials, MAX_FRAME_BYTES)
            .map_err(wit)?;
        Ok(Binding::new(Connection {
            // Put-data requests do not wait for their replies (the host's
            // TCP transport does the same; the wire is unchanged).
            client: RefCell::new(client.pipeline_put_data(PUT_DATA_WINDOW)),
        }))
    }

    fn call(&self, request: Vec<u8>) -> Result<Vec<u8>, Error> {
        self.client.borrow_mut().call(&request).map_err(wit)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let _ = self
            .client
            .get_mut()
            .stream()
            .tcp()
            .shutdown(Shutdown::Both);
    }
}

// Exported only in the component (see the guest's src/lib.rs).
#[cfg(target_family = "wasm")]
export!(Transport);

#[cfg(test)]
mod tests {
    use dsrestore_tls::rustls::CipherSuite;

    #[test]
    fn chacha20_is_offered_first_and_aes_gcm_still_offered() {
        let suites: Vec<_> = super::provider()
            .cipher_suites
            .iter()
            .map(|s| s.suite())
            .collect();
        assert_eq!(suites[0], CipherSuite::TLS13_CHACHA20_POLY1305_SHA256);
        assert!(
            suites.contains(&CipherSuite::TLS13_AES_128_GCM_SHA256),
            "{suites:?}"
        );
    }
}
