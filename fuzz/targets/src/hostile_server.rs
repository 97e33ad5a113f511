//! The client (the guest's logic, `dsrestore-client`, natively) against a
//! server whose every reply comes from the fuzzer: a restore and a backup
//! driven from prepare to end. It must never panic, every failure must carry
//! a code, and no binding may stay open.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use arbitrary::{Arbitrary, Unstructured};
use dsrestore_client::{
    BackupContext, BackupType, Binder, Binding, Error, Registration, RestoreContext,
    RestoreMapEntry, RestoreType,
};
use dsrestore_protocol::{encode, BackupPrepared, FileOpened, HelloOk, Location, Prepared, Reply};

/// A reply the fuzzer chooses: well-formed ones of every shape the client
/// expects (so that it gets past the handshake), errors, and raw bytes.
#[derive(Arbitrary, Debug)]
pub(crate) enum FakeReply {
    Hello { version: u32, server: String },
    Prepared { session: u64, restricted: bool },
    BackupPrepared { session: u64, token: Vec<u8> },
    Locations(Vec<(u8, String)>),
    Opened { size: u64 },
    Data(Vec<u8>),
    Flag(bool),
    Unit,
    Error { code: u32, message: String },
    Raw(Vec<u8>),
}

impl FakeReply {
    pub(crate) fn bytes(self) -> Vec<u8> {
        match self {
            FakeReply::Hello { version, server } => encode(&Reply::Ok(HelloOk { version, server })),
            FakeReply::Prepared {
                session,
                restricted,
            } => encode(&Reply::Ok(Prepared {
                session,
                restricted,
            })),
            FakeReply::BackupPrepared { session, token } => encode(&Reply::Ok(BackupPrepared {
                session,
                expiry_token: token,
            })),
            FakeReply::Locations(all) => encode(&Reply::Ok(
                all.into_iter()
                    .map(|(bft, path)| Location { bft, path })
                    .collect::<Vec<_>>(),
            )),
            FakeReply::Opened { size } => encode(&Reply::Ok(FileOpened { size })),
            FakeReply::Data(bytes) => encode(&Reply::Ok(serde_bytes::ByteBuf::from(bytes))),
            FakeReply::Flag(flag) => encode(&Reply::Ok(flag)),
            FakeReply::Unit => encode(&Reply::Ok(())),
            FakeReply::Error { code, message } => encode(&Reply::<()>::Err(
                dsrestore_protocol::Error::new(code, message),
            )),
            FakeReply::Raw(bytes) => bytes,
        }
    }
}

/// Bindings whose replies the fuzzer writes; counts the open ones.
struct FuzzBinder<'a> {
    input: Rc<RefCell<Unstructured<'a>>>,
    open: Rc<Cell<i64>>,
}

struct FuzzBinding<'a> {
    input: Rc<RefCell<Unstructured<'a>>>,
    open: Rc<Cell<i64>>,
}

impl<'a> Binder for FuzzBinder<'a> {
    type Binding = FuzzBinding<'a>;

    fn open(&self, _server: &str) -> Result<FuzzBinding<'a>, Error> {
        if bool::arbitrary(&mut self.input.borrow_mut()).unwrap_or(false) {
            return Err(Error::new(0xC7FF0007, "the fuzzer refused the connection"));
        }
        self.open.set(self.open.get() + 1);
        Ok(FuzzBinding {
            input: Rc::clone(&self.input),
            open: Rc::clone(&self.open),
        })
    }
}

impl Binding for FuzzBinding<'_> {
    fn call(&self, _request: &[u8]) -> Result<Vec<u8>, Error> {
        let mut input = self.input.borrow_mut();
        if input.is_empty() {
            return Err(Error::new(0x800706BE, "the fuzzer's input ran out"));
        }
        FakeReply::arbitrary(&mut input)
            .map(FakeReply::bytes)
            .map_err(|_| Error::new(0x800706BE, "the fuzzer's input ran out"))
    }
}

impl Drop for FuzzBinding<'_> {
    fn drop(&mut self) {
        self.open.set(self.open.get() - 1);
    }
}

fn checked<T>(result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(e) => {
            assert_ne!(e.code, 0, "an error without a code: {e}");
            None
        }
    }
}

/// Drives is-online, a whole restore and a whole backup against replies
/// from `data`.
pub fn client_under_a_hostile_server(data: &[u8]) {
    let input = Rc::new(RefCell::new(Unstructured::new(data)));
    let open = Rc::new(Cell::new(0));
    let binder = FuzzBinder {
        input: Rc::clone(&input),
        open: Rc::clone(&open),
    };
    let server = "tcp://127.0.0.1:8389";
    checked(dsrestore_client::is_ntds_online(&binder, server));
    assert_eq!(open.get(), 0, "is-online left a binding open");

    let restore_type = RestoreType {
        catchup: true,
        ..RestoreType::default()
    };
    if let Some(ctx) = checked(RestoreContext::prepare(
        &binder,
        server,
        restore_type,
        Some(b"token".to_vec()),
    )) {
        checked(ctx.database_locations());
        checked(ctx.put_file(0x44, "ntds.dit".into(), 4));
        checked(ctx.put_data(b"data".to_vec()));
        checked(ctx.put_file_end("00".repeat(32)));
        checked(ctx.register(Registration {
            checkpoint_file_path: "/t/ntds".into(),
            log_path: "/t/logs".into(),
            restore_map: vec![RestoreMapEntry {
                database_name: "/s/ntds.dit".into(),
                new_database_name: "/t/ntds/ntds.dit".into(),
            }],
            backup_log_path: "/t/logs".into(),
            gen_low: 0x10,
            gen_high: 0x11,
        }));
        checked(ctx.place_files());
        checked(ctx.register_complete(0));
        checked(ctx.end());
    }
    assert_eq!(open.get(), 0, "a restore left a binding open");

    if let Some((ctx, _token)) =
        checked(BackupContext::prepare(&binder, server, 0, BackupType::Full))
    {
        if let Some(names) = checked(ctx.get_database_names()) {
            for name in names.into_iter().take(4) {
                if checked(ctx.open_file(name.path, 64 << 10)).is_some() {
                    for _ in 0..8 {
                        if checked(ctx.read(64 << 10)).is_none() {
                            break;
                        }
                    }
                    checked(ctx.close_file());
                }
            }
        }
        checked(ctx.get_backup_logs());
        checked(ctx.truncate_logs());
        checked(ctx.end());
    }
    assert_eq!(open.get(), 0, "a backup left a binding open");
}
