//! `dsrestore agent --metrics-listen`: the Prometheus endpoint scraped
//! before, during and after a backup and a restore through the agent.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;

use crate::support::*;

/// Scrapes `url` (http://host:port/metrics): each sample line's name with
/// its labels, and its value.
fn scrape(url: &str) -> BTreeMap<String, f64> {
    let (status, body) = get(url);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.ends_with("# EOF\n"),
        "OpenMetrics ends with # EOF: {body}"
    );
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').unwrap();
            (name.to_string(), value.parse().unwrap())
        })
        .collect()
}

/// A plain HTTP/1.1 GET: (status, body).
fn get(url: &str) -> (u16, String) {
    let rest = url.strip_prefix("http://").unwrap();
    let (address, path) = rest.split_at(rest.find('/').unwrap());
    let mut tcp = TcpStream::connect(address).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn value(metrics: &BTreeMap<String, f64>, name: &str) -> f64 {
    metrics.get(name).copied().unwrap_or(0.0)
}

#[test]
fn metrics_count_connections_authentications_and_a_backup_and_restore_as_they_happen() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    init_target(&target, &["--online", "--database-mib", "2", "--logs", "3"]);
    add_user(&target);
    let agent = AgentProcess::start_with(&target, &[], &["--metrics-listen", "127.0.0.1:0"]);
    let url = agent
        .first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no metrics address in {:?}", agent.first_line))
        .to_string();
    assert_eq!(get(&url.replace("/metrics", "/other")).0, 404);
    let before = scrape(&url);
    assert_eq!(value(&before, "dsrestore_agent_connections_open"), 0.0);

    // A wrong password: denied.
    let (code, _, _) = run_as("wrong", &["is-online", "--server", &agent.server]);
    assert_eq!(code, 3);
    // A backup, then a restore of it.
    let set = dir.path().join("set");
    let (code, _, err) = run_as(
        PASSWORD,
        &["backup", "--server", &agent.server, "--out", path(&set)],
    );
    assert_eq!(code, 0, "{err}");
    let after_backup = scrape(&url);
    assert_eq!(run(&["target", "offline", path(&target)]).0, 0);

    // During a restore: its session is open; a client that goes away
    // mid-restore leaves a binding the target closes, and a failed restore.
    let during = crate::agent::raw_restore(&agent, &set);
    let open = scrape(&url);
    assert_eq!(value(&open, "dsrestore_sessions_open"), 1.0);
    assert_eq!(value(&open, "dsrestore_agent_connections_open"), 1.0);
    assert_eq!(
        value(&open, "dsrestore_sessions_started_total{kind=\"restore\"}"),
        1.0
    );
    drop(during);
    let waited = std::time::Instant::now();
    while value(&scrape(&url), "dsrestore_bindings_leaked_total") < 1.0 {
        assert!(waited.elapsed() < std::time::Duration::from_secs(10));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let cut = scrape(&url);
    assert_eq!(
        value(&cut, "dsrestore_restores_total{outcome=\"failed\"}"),
        1.0
    );
    assert_eq!(value(&cut, "dsrestore_sessions_open"), 0.0);

    let (code, _, err) = run_as(
        PASSWORD,
        &["restore", "--from", path(&set), "--server", &agent.server],
    );
    assert_eq!(code, 0, "{err}");
    let after = scrape(&url);

    let moved = |name: &str| value(&after, name) - value(&before, name);
    assert_eq!(
        moved("dsrestore_agent_authentications_total{outcome=\"denied\"}"),
        1.0
    );
    assert!(moved("dsrestore_agent_authentications_total{outcome=\"ok\"}") >= 2.0);
    assert!(moved("dsrestore_agent_connections_total{outcome=\"accepted\"}") >= 3.0);
    assert_eq!(
        value(
            &after_backup,
            "dsrestore_backups_total{outcome=\"completed\"}"
        ),
        1.0
    );
    assert_eq!(
        moved("dsrestore_restores_total{outcome=\"completed\"}"),
        1.0
    );
    assert_eq!(moved("dsrestore_restores_total{outcome=\"failed\"}"), 1.0);
    assert_eq!(
        moved("dsrestore_requests_total{op=\"register-complete\",outcome=\"ok\"}"),
        1.0
    );
    // The database (2 MiB) and 3 logs went out in the backup and back in
    // the restore, inside the frames.
    let database = (2 << 20) as f64;
    assert!(value(&after_backup, "dsrestore_agent_sent_bytes_total") > database);
    assert!(moved("dsrestore_agent_received_bytes_total") > database);
    assert_eq!(value(&after, "dsrestore_sessions_open"), 0.0);
    assert_eq!(value(&after, "dsrestore_bindings_leaked_total"), 1.0);
    assert_eq!(value(&after, "dsrestore_agent_lockouts_total"), 0.0);
    let (code, _, _) = run(&["target", "status", path(&target)]);
    assert_eq!(code, 0);
}
