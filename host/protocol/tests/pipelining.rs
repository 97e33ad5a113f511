//! A client with put-data pipelining against a scripted agent on 127.0.0.1:
//! put-data requests go out without waiting for their replies, up to the
//! window; the replies are read, in order, before any other request; a
//! refused put-data is what the next call returns, and that call's request
//! is never sent.

use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::Duration;

use dsrestore_protocol::framing::{read_frame, write_frame, MAX_FRAME_BYTES};
use dsrestore_protocol::handshake::{welcome, FramedClient};
use dsrestore_protocol::{codes, decode, encode, Error, Reply, Request};

/// An agent that greets, then runs `script` on the connection; returns what
/// the script returns.
fn agent<T: Send + 'static>(
    script: impl FnOnce(&mut TcpStream) -> T + Send + 'static,
) -> (FramedClient<TcpStream>, JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let agent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        read_frame(&mut stream, MAX_FRAME_BYTES).unwrap();
        write_frame(&mut stream, &welcome("dc1")).unwrap();
        script(&mut stream)
    });
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (client, _) = FramedClient::authenticate(stream, "agent", None, MAX_FRAME_BYTES).unwrap();
    (client, agent)
}

fn put_data(byte: u8) -> Vec<u8> {
    encode(&Request::PutData {
        data: vec![byte; 1000],
    })
}

fn ok() -> Vec<u8> {
    encode(&Reply::Ok(()))
}

/// The next request the agent reads, decoded.
fn next(stream: &mut TcpStream) -> Request {
    decode(&read_frame(stream, MAX_FRAME_BYTES).unwrap()).unwrap()
}

#[test]
fn put_data_goes_out_without_waiting_up_to_the_window() {
    // The agent answers nothing until it has read four put-data requests:
    // a client that waited for each reply would time out.
    let (client, agent) = agent(|stream| {
        for byte in 0..4 {
            assert_eq!(
                next(stream),
                Request::PutData {
                    data: vec![byte; 1000]
                }
            );
        }
        for _ in 0..4 {
            write_frame(stream, &ok()).unwrap();
        }
        assert!(matches!(next(stream), Request::PutFileEnd { .. }));
        write_frame(stream, &ok()).unwrap();
        // The fifth chunk after the window was drained.
        next(stream)
    });
    let mut client = client.pipeline_put_data(4);
    for byte in 0..4 {
        assert_eq!(client.call(&put_data(byte)).unwrap(), ok());
    }
    let end = encode(&Request::PutFileEnd {
        sha256: "00".into(),
    });
    assert_eq!(client.call(&end).unwrap(), ok());
    client.call(&put_data(9)).unwrap();
    assert_eq!(
        agent.join().unwrap(),
        Request::PutData {
            data: vec![9; 1000]
        }
    );
}

#[test]
fn a_full_window_waits_for_the_oldest_reply() {
    let (client, agent) = agent(|stream| {
        next(stream);
        next(stream);
        // Two in flight: the third is not sent before a reply comes.
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let early = read_frame(stream, MAX_FRAME_BYTES).is_ok();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write_frame(stream, &ok()).unwrap();
        let third = next(stream);
        write_frame(stream, &ok()).unwrap();
        write_frame(stream, &ok()).unwrap();
        assert_eq!(next(stream), Request::RestoreEnd);
        write_frame(stream, &ok()).unwrap();
        (early, third)
    });
    let mut client = client.pipeline_put_data(2);
    for byte in 0..3 {
        client.call(&put_data(byte)).unwrap();
    }
    assert_eq!(client.call(&encode(&Request::RestoreEnd)).unwrap(), ok());
    let (early, third) = agent.join().unwrap();
    assert!(!early, "a third put-data was sent with two replies unread");
    assert_eq!(
        third,
        Request::PutData {
            data: vec![2; 1000]
        }
    );
}

#[test]
fn a_refused_put_data_is_the_next_calls_answer_and_that_request_is_not_sent() {
    let refusal = encode(&Reply::<()>::Err(Error::new(
        codes::HR_ERROR,
        "dc1: put-data: no space left",
    )));
    let sent = refusal.clone();
    let (client, agent) = agent(move |stream| {
        for reply in [ok(), sent, ok()] {
            assert!(matches!(next(stream), Request::PutData { .. }));
            write_frame(stream, &reply).unwrap();
        }
        // Not put-file-end: the client did not send it.
        next(stream)
    });
    let mut client = client.pipeline_put_data(8);
    for byte in 0..3 {
        assert_eq!(client.call(&put_data(byte)).unwrap(), ok());
    }
    let end = encode(&Request::PutFileEnd {
        sha256: "00".into(),
    });
    assert_eq!(client.call(&end).unwrap(), refusal);
    // What the caller does next (end its session) goes out as it is.
    let _ = client.call(&encode(&Request::RestoreEnd));
    assert_eq!(agent.join().unwrap(), Request::RestoreEnd);
}

#[test]
fn without_a_window_every_call_waits_for_its_reply() {
    let (client, agent) = agent(|stream| {
        for _ in 0..3 {
            assert!(matches!(next(stream), Request::PutData { .. }));
            write_frame(stream, &encode(&Reply::Ok(7u32))).unwrap();
        }
    });
    let mut client = client;
    for byte in 0..3 {
        // The agent's own reply, not a success made up by the client.
        assert_eq!(
            client.call(&put_data(byte)).unwrap(),
            encode(&Reply::Ok(7u32))
        );
    }
    agent.join().unwrap();
}
