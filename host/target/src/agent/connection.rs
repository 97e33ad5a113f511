//! One client connection of the agent: authenticate, then request -> reply
//! until the client leaves, goes idle, breaks a rule, or the agent stops.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use dsrestore_protocol::framing::{frame_header, payload_len, FRAME_HEADER_LEN};
use dsrestore_protocol::{codes, handshake, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Shared;

/// Why a connection stopped reading.
enum Stop {
    /// The agent is shutting down.
    Shutdown,
    /// The client closed, timed out or broke the framing.
    Gone(String),
}

async fn read_frame(
    stream: &mut TcpStream,
    shared: &Shared,
    stopped: &mut watch::Receiver<bool>,
) -> Result<Vec<u8>, Stop> {
    let mut header = [0u8; FRAME_HEADER_LEN];
    let read = async {
        stream.read_exact(&mut header).await?;
        let len = payload_len(header, shared.options.max_frame_bytes)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let mut message = vec![0; len];
        stream.read_exact(&mut message).await?;
        Ok::<_, io::Error>(message)
    };
    tokio::select! {
        _ = stopped.wait_for(|s| *s) => Err(Stop::Shutdown),
        r = tokio::time::timeout(shared.options.idle_timeout, read) => match r {
            Err(_) => Err(Stop::Gone(format!("idle for {:?}", shared.options.idle_timeout))),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Stop::Gone("closed by the client".into())),
            Ok(Err(e)) => Err(Stop::Gone(e.to_string())),
            Ok(Ok(message)) => Ok(message),
        }
    }
}

async fn write_frame(stream: &mut TcpStream, message: &[u8]) -> io::Result<()> {
    let header = frame_header(message.len())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "reply over 4 GiB"))?;
    stream.write_all(&header).await?;
    stream.write_all(message).await?;
    stream.flush().await
}

/// Checks the first frame. Returns the peer's name for logs, or the refusal
/// to send before closing.
async fn authenticate(shared: &Arc<Shared>, first: Vec<u8>) -> Result<String, Vec<u8>> {
    let name = shared.target.name().to_string();
    let credentials = handshake::credentials_of(&name, &first).map_err(handshake::refusal)?;
    let who = format!("{}\\{}", credentials.domain, credentials.user);
    let checker = Arc::clone(shared);
    let ok = tokio::task::spawn_blocking(move || checker.users.verify(&credentials))
        .await
        .unwrap_or(false);
    if ok {
        Ok(who)
    } else {
        tokio::time::sleep(shared.options.auth_failure_delay).await;
        Err(handshake::refusal(Error::new(
            codes::ERROR_ACCESS_DENIED,
            format!("{name}: user {who} is unknown or the password is wrong"),
        )))
    }
}

pub(super) async fn serve(
    shared: Arc<Shared>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut stopped: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let first = match read_frame(&mut stream, &shared, &mut stopped).await {
        Ok(first) => first,
        Err(_) => return,
    };
    let who = match authenticate(&shared, first).await {
        Ok(who) => who,
        Err(refused) => {
            tracing::warn!(%peer, "authentication refused");
            let _ = write_frame(&mut stream, &refused).await;
            return;
        }
    };
    let accepted = handshake::welcome(shared.target.name());
    if write_frame(&mut stream, &accepted).await.is_err() {
        return;
    }
    tracing::info!(%peer, user = %who, "client authenticated");
    let mut server = Some(shared.target.connect(&format!("{who}@{peer}")));
    let why = loop {
        let request = match read_frame(&mut stream, &shared, &mut stopped).await {
            Ok(request) => request,
            Err(Stop::Shutdown) => break "the agent is shutting down".to_string(),
            Err(Stop::Gone(why)) => break why,
        };
        // The target does disk I/O: run it off the async threads.
        let mut conn = server
            .take()
            .expect("the connection is put back after each request");
        let (conn, reply) = match tokio::task::spawn_blocking(move || {
            let reply = conn.handle(&request);
            (conn, reply)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => break format!("handling a request failed: {e}"),
        };
        server = Some(conn);
        if let Err(e) = write_frame(&mut stream, &reply).await {
            break format!("writing a reply failed: {e}");
        }
    };
    tracing::info!(%peer, user = %who, "connection closed: {why}");
    // Dropping the target's connection ends its session, if any.
    drop(server);
}
