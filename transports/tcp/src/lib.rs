//! `binding-transport` over TCP (wasi:sockets, through Rust's std::net on
//! wasm32-wasip2): reaches `tcp://host:port` agents with the agent's framing
//! and authentication (docs/protocol.md). Composed in front of the guest, it
//! lets the stock `wasmtime` CLI run dsrestore (`-S inherit-network=y`).

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
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use dsrestore_protocol::codes;
use dsrestore_protocol::framing::{
    frame_header, frame_len, Authenticate, Authenticated, Credentials, MAX_FRAME_BYTES,
};
use dsrestore_protocol::{decode, encode, Reply};
use exports::dsrestore::backup::binding_transport::{Binding, Guest, GuestBinding};
use exports::dsrestore::backup::types::{AuthIdentity, Error};

struct Transport;

/// One connection to an agent; broken after an I/O error.
struct Connection {
    server: String,
    stream: RefCell<Option<TcpStream>>,
}

fn error(code: u32, message: String) -> Error {
    Error { code, message }
}

fn write_frame(stream: &mut TcpStream, message: &[u8]) -> std::io::Result<()> {
    let header =
        frame_header(message.len()).ok_or_else(|| std::io::Error::other("message over 4 GiB"))?;
    stream.write_all(&header)?;
    stream.write_all(message)?;
    stream.flush()
}

fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut header = [0; 4];
    stream.read_exact(&mut header)?;
    let len = frame_len(header);
    if len > MAX_FRAME_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes is over the limit"),
        ));
    }
    let mut message = vec![0; len as usize];
    stream.read_exact(&mut message)?;
    Ok(message)
}

impl Guest for Transport {
    type Binding = Connection;
}

impl GuestBinding for Connection {
    fn open(server: String, identity: Option<AuthIdentity>) -> Result<Binding, Error> {
        let Some(address) = server
            .strip_prefix("tcp://")
            .map(|a| a.trim_end_matches('/'))
        else {
            return Err(error(
                codes::HR_COULD_NOT_CONNECT,
                format!("{server}: this transport reaches only tcp://host:port agents"),
            ));
        };
        let mut stream = TcpStream::connect(address).map_err(|e| {
            error(
                codes::HR_COULD_NOT_CONNECT,
                format!("{server}: could not connect: {e}"),
            )
        })?;
        let _ = stream.set_nodelay(true);
        let hello = Authenticate {
            authenticate: identity.map(|id| Credentials {
                user: id.user,
                domain: id.domain,
                password: id.password,
            }),
        };
        let reply = write_frame(&mut stream, &encode(&hello))
            .and_then(|()| read_frame(&mut stream))
            .map_err(|e| {
                error(
                    codes::RPC_S_CALL_FAILED,
                    format!("{server}: authenticating failed: {e}"),
                )
            })?;
        match decode::<Reply<Authenticated>>(&reply) {
            Ok(Reply::Ok(_)) => {}
            Ok(Reply::Err(e)) => return Err(error(e.code, e.message)),
            Err(e) => {
                return Err(error(
                    codes::RPC_X_BAD_STUB_DATA,
                    format!("{server}: not a dsrestore agent: {e}"),
                ))
            }
        }
        Ok(Binding::new(Connection {
            server,
            stream: RefCell::new(Some(stream)),
        }))
    }

    fn call(&self, request: Vec<u8>) -> Result<Vec<u8>, Error> {
        let mut slot = self.stream.borrow_mut();
        let Some(stream) = slot.as_mut() else {
            return Err(error(
                codes::RPC_S_CALL_FAILED,
                format!("{}: the connection broke earlier", self.server),
            ));
        };
        let result = write_frame(stream, &request).and_then(|()| read_frame(stream));
        result.map_err(|e| {
            *slot = None;
            let code = if e.kind() == std::io::ErrorKind::InvalidData {
                codes::RPC_X_BAD_STUB_DATA
            } else {
                codes::RPC_S_CALL_FAILED
            };
            error(code, format!("{}: {e}", self.server))
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(stream) = self.stream.get_mut().take() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

export!(Transport);
