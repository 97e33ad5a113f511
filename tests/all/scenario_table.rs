//! The shared scenario table (`tests/scenarios/restore.json`), run through the
//! Rust host's handle API. The Python suite (bindings/python) runs the same
//! table and expects the same codes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::common::Fixture;
use dsrestore_host::{
    codes, Config, Connection, EmbeddedTransport, Error, Identity, RestoreFlags, Runtime, Transport,
};
use dsrestore_protocol::{decode, encode, HelloOk, Reply, Request};
use serde::Deserialize;

#[derive(Deserialize)]
struct Table {
    scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
struct Scenario {
    name: String,
    server: String,
    #[serde(default)]
    guest: Option<String>,
    steps: Vec<Vec<serde_json::Value>>,
    expect: Vec<String>,
}

/// How the target behaves (the table's `server`), with a count of the
/// connections open at the transport.
struct ScenarioTransport {
    kind: String,
    open: Arc<AtomicUsize>,
}

struct ScenarioConnection {
    kind: String,
    inner: Box<dyn Connection>,
    calls: usize,
    open: Arc<AtomicUsize>,
}

impl Transport for ScenarioTransport {
    fn open(
        &self,
        server: &str,
        identity: Option<&Identity>,
    ) -> Result<Box<dyn Connection>, Error> {
        let inner = EmbeddedTransport.open(server, identity)?;
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(Box::new(ScenarioConnection {
            kind: self.kind.clone(),
            inner,
            calls: 0,
            open: Arc::clone(&self.open),
        }))
    }
}

impl Connection for ScenarioConnection {
    fn call(&mut self, request: &[u8], deadline: Instant) -> Result<Vec<u8>, Error> {
        self.calls += 1;
        let hello = matches!(decode::<Request>(request), Ok(Request::Hello { .. }));
        match self.kind.as_str() {
            "garbage" if hello => Ok(encode(&Reply::Ok(HelloOk {
                version: 1,
                server: "garbage".into(),
            }))),
            "garbage" => Ok(b"\xff\x00 not CBOR".to_vec()),
            "refuses" if hello => Ok(encode(&Reply::Ok(HelloOk {
                version: 1,
                server: "refuses".into(),
            }))),
            "refuses" => Ok(encode(&Reply::<()>::Err(Error {
                code: codes::ERROR_SERVICE_ALREADY_RUNNING,
                message: "refused by the scenario".into(),
            }))),
            // The handshake and restore-prepare, then the connection breaks.
            "closes" if self.calls > 2 => Err(Error::new(
                codes::RPC_S_CALL_FAILED,
                "the connection closed (scenario)",
            )),
            _ => self.inner.call(request, deadline),
        }
    }

    fn close(&mut self) {
        self.inner.close();
        self.open.fetch_sub(1, Ordering::SeqCst);
    }
}

fn code_of<T>(result: Result<T, Error>) -> u32 {
    result.map_or_else(|e| e.code, |_| codes::S_OK)
}

fn run(scenario: &Scenario) {
    let fixture = Fixture::offline();
    let open = Arc::new(AtomicUsize::new(0));
    let component = match scenario.guest.as_deref() {
        None => None,
        Some("trapping") => {
            Some(std::fs::read(dsrestore_test_artifacts::TRAPPING_GUEST_PATH).unwrap())
        }
        Some(other) => panic!("{}: unknown guest {other}", scenario.name),
    };
    let runtime = |kind: &str| {
        Runtime::new(Config {
            transport: Arc::new(ScenarioTransport {
                kind: kind.to_string(),
                open: Arc::clone(&open),
            }),
            component: component.clone(),
            ..Config::default()
        })
        .unwrap()
    };
    let mut main = Some(runtime(&scenario.server));
    let other = runtime("good");
    let mut hbc = 0;
    let mut neighbour = 0;
    let mut got = Vec::new();
    for step in &scenario.steps {
        let op = step[0].as_str().unwrap();
        let rt = main.as_ref().expect("no step after drop");
        let code = match op {
            "prepare-with-token" | "prepare-without-token" => {
                let token = (op == "prepare-with-token").then(|| fixture.token());
                match rt.prepare_handle(&fixture.server, RestoreFlags::CATCHUP, token.as_deref()) {
                    Ok(h) => {
                        hbc = h;
                        codes::S_OK
                    }
                    Err(e) => e.code,
                }
            }
            "database-locations" => code_of(rt.database_locations(hbc)),
            "register" => code_of(rt.register(hbc, &fixture.registration())),
            "register-complete" => {
                let state = u32::try_from(step[1].as_u64().unwrap()).unwrap();
                code_of(rt.register_complete(hbc, state))
            }
            "prepare-neighbour" => {
                match rt.prepare_handle(
                    &fixture.server,
                    RestoreFlags::CATCHUP,
                    Some(&fixture.token()),
                ) {
                    Ok(h) => {
                        neighbour = h;
                        codes::S_OK
                    }
                    Err(e) => e.code,
                }
            }
            "end-neighbour" => code_of(rt.end(neighbour)),
            "end" => code_of(rt.end(hbc)),
            "end-in-another-runtime" => code_of(other.end(hbc)),
            // Dropping the runtime drops its sessions without end.
            "drop" => {
                main = None;
                codes::S_OK
            }
            other => panic!("{}: unknown step {other}", scenario.name),
        };
        got.push(format!("0x{code:08X}"));
    }
    drop(main);
    assert_eq!(got, scenario.expect, "scenario {}", scenario.name);
    assert_eq!(
        open.load(Ordering::SeqCst),
        0,
        "scenario {}: bindings left open",
        scenario.name
    );
}

fn table() -> Table {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scenarios/restore.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Runs the table's scenario `name`.
fn scenario(name: &str) {
    let table = table();
    let found = table.scenarios.iter().find(|s| s.name == name);
    run(found.unwrap_or_else(|| panic!("the table has no scenario {name}")));
}

/// One test per scenario of the table, named after it, so that one failing
/// scenario hides no other.
macro_rules! scenarios {
    ($($test:ident = $name:literal,)*) => {
        $(
            #[test]
            fn $test() {
                scenario($name);
            }
        )*

        #[test]
        fn every_scenario_of_the_table_has_its_test() {
            let tested = [$($name),*];
            for s in table().scenarios {
                assert!(tested.contains(&s.name.as_str()), "scenario {} has no #[test]: add it to scenarios!", s.name);
            }
        }
    };
}

scenarios! {
    happy_path = "happy-path",
    end_twice = "end-twice",
    use_after_end = "use-after-end",
    context_from_another_runtime = "context-from-another-runtime",
    drop_without_end = "drop-without-end",
    restricted_context_cannot_register = "restricted-context-cannot-register",
    garbage_replies = "garbage-replies",
    error_replies = "error-replies",
    connection_closes_mid_restore = "connection-closes-mid-restore",
    guest_trap_contained_to_its_session = "guest-trap-contained-to-its-session",
}
