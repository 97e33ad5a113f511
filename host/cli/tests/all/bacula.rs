//! Bacula storing a set stream through its `bpipe` plugin: the README's
//! FileSet line, as printed there, run by a director, a storage daemon and a
//! file daemon of Debian's Bacula on 127.0.0.1 (ephemeral ports, a SQLite
//! catalog and a file volume in a temporary directory).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{init_target, run};

/// The `Plugin = "bpipe:..."` line of the README's Bacula FileSet.
fn readme_plugin_line() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("the README");
    let line = readme
        .lines()
        .find(|l| l.trim_start().starts_with("Plugin = \"bpipe:/"))
        .expect("the README's Bacula FileSet has a bpipe Plugin line");
    line.trim().to_string()
}

/// A Bacula daemon or tool: Debian installs them in /usr/sbin.
fn bacula(name: &str) -> Command {
    let sbin = Path::new("/usr/sbin").join(name);
    Command::new(if sbin.exists() {
        sbin
    } else {
        PathBuf::from(name)
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A director, a storage daemon and a file daemon, killed when dropped.
struct Bacula {
    dir: PathBuf,
    daemons: Vec<Child>,
}

impl Bacula {
    /// Starts the three daemons with their files in `dir`; the file daemon
    /// finds `dsrestore` on its PATH and the server name `dc1` in
    /// `dsrestore.toml`, as an administrator would set it up.
    fn start(dir: &Path, plugin_line: &str, dc1: &str) -> Bacula {
        let d = dir.display();
        for sub in ["dir", "sd", "fd", "vol", "bin"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::os::unix::fs::symlink(
            assert_cmd::cargo::cargo_bin("dsrestore"),
            dir.join("bin/dsrestore"),
        )
        .unwrap();
        std::fs::write(
            dir.join("dsrestore.toml"),
            format!("[servers]\ndc1 = \"{dc1}\"\n"),
        )
        .unwrap();
        catalog(&dir.join("dir/bacula.db"));
        let (dir_port, sd_port, fd_port) = (free_port(), free_port(), free_port());
        let configs = [
            (
                "dir.conf",
                format!(
                    r#"Director {{
  Name = t-dir
  DIRport = {dir_port}
  DirAddress = 127.0.0.1
  QueryFile = "/etc/bacula/scripts/query.sql"
  WorkingDirectory = "{d}/dir"
  PidDirectory = "{d}/dir"
  Password = "director secret"
  Messages = Daemon
}}
Client {{
  Name = t-fd
  Address = 127.0.0.1
  FDPort = {fd_port}
  Catalog = MyCatalog
  Password = "file daemon secret"
}}
Storage {{
  Name = File1
  Address = 127.0.0.1
  SDPort = {sd_port}
  Password = "storage secret"
  Device = FileDev
  Media Type = File
}}
Catalog {{
  Name = MyCatalog
  dbname = "bacula"
  dbuser = ""
  dbpassword = ""
}}
Messages {{
  Name = Standard
  console = all, !skipped, !saved
  catalog = all
}}
Messages {{
  Name = Daemon
  console = all
}}
Pool {{
  Name = Default
  Pool Type = Backup
  Label Format = "Vol-"
}}
FileSet {{
  Name = "dc1-directory"
  Include {{
    Options {{ signature = SHA256 }}
    {plugin_line}
  }}
}}
Job {{
  Name = dc1
  Type = Backup
  Level = Full
  Client = t-fd
  FileSet = "dc1-directory"
  Storage = File1
  Pool = Default
  Messages = Standard
  Write Bootstrap = "{d}/dir/%n.bsr"
}}
Job {{
  Name = RestoreFiles
  Type = Restore
  Client = t-fd
  FileSet = "dc1-directory"
  Storage = File1
  Pool = Default
  Messages = Standard
  Where = "/"
}}
"#
                ),
            ),
            (
                "sd.conf",
                format!(
                    r#"Storage {{
  Name = t-sd
  SDPort = {sd_port}
  SDAddress = 127.0.0.1
  WorkingDirectory = "{d}/sd"
  Pid Directory = "{d}/sd"
}}
Director {{
  Name = t-dir
  Password = "storage secret"
}}
Device {{
  Name = FileDev
  Media Type = File
  Archive Device = "{d}/vol"
  LabelMedia = yes
  Random Access = yes
  AutomaticMount = yes
  RemovableMedia = no
  AlwaysOpen = no
}}
Messages {{
  Name = Standard
  director = t-dir = all
}}
"#
                ),
            ),
            (
                "fd.conf",
                format!(
                    r#"Director {{
  Name = t-dir
  Password = "file daemon secret"
}}
FileDaemon {{
  Name = t-fd
  FDport = {fd_port}
  FDAddress = 127.0.0.1
  WorkingDirectory = "{d}/fd"
  Pid Directory = "{d}/fd"
  Plugin Directory = "/usr/lib/bacula"
}}
Messages {{
  Name = Standard
  director = t-dir = all, !skipped, !restored
}}
"#
                ),
            ),
            (
                "bconsole.conf",
                format!(
                    r#"Director {{
  Name = t-dir
  DIRport = {dir_port}
  address = 127.0.0.1
  Password = "director secret"
}}
"#
                ),
            ),
        ];
        for (name, text) in &configs {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let path = format!(
            "{}:{}",
            dir.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut bacula_ = Bacula {
            dir: dir.to_path_buf(),
            daemons: Vec::new(),
        };
        for (daemon, conf) in [
            ("bacula-sd", "sd.conf"),
            ("bacula-fd", "fd.conf"),
            ("bacula-dir", "dir.conf"),
        ] {
            let log = std::fs::File::create(dir.join(format!("{conf}.log"))).unwrap();
            let child = bacula(daemon)
                .args(["-f", "-c"])
                .arg(dir.join(conf))
                .current_dir(dir)
                .env("PATH", &path)
                .env("DSRESTORE_CONFIG", dir.join("dsrestore.toml"))
                .env("DSRESTORE_LOG", "warn")
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("start {daemon} (Debian's bacula packages): {e}"));
            bacula_.daemons.push(child);
        }
        for port in [sd_port, fd_port, dir_port] {
            bacula_.wait_for(port);
        }
        bacula_
    }

    /// Waits until a daemon listens on `port` (at most a minute).
    fn wait_for(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            for daemon in &mut self.daemons {
                if let Some(status) = daemon.try_wait().unwrap() {
                    panic!("a Bacula daemon exited ({status}): {}", self.logs());
                }
            }
            assert!(
                Instant::now() < deadline,
                "no Bacula daemon on port {port} after a minute: {}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn logs(&self) -> String {
        ["sd.conf.log", "fd.conf.log", "dir.conf.log"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs `commands` in bconsole, then waits for the jobs and prints their
    /// messages; returns what bconsole printed.
    fn console(&self, commands: &str) -> String {
        let mut child = Command::new("timeout")
            .arg("300")
            .arg(bacula("bconsole").get_program())
            .arg("-c")
            .arg(self.dir.join("bconsole.conf"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bconsole");
        // bconsole writes as it reads: the commands go in from a thread.
        let mut stdin = child.stdin.take().unwrap();
        let script = format!("{commands}\nwait\nmessages\nquit\n");
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "bconsole: {}", out.status);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The volume files the storage daemon wrote.
    fn volumes(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.dir.join("vol"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }
}

impl Drop for Bacula {
    fn drop(&mut self) {
        for daemon in &mut self.daemons {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

/// Creates the director's SQLite catalog with Debian's own table script.
fn catalog(db: &Path) {
    let script = std::fs::read_to_string("/usr/share/bacula-director/make_sqlite3_tables")
        .expect("Debian's bacula-director-sqlite3 table script");
    let sql: String = script
        .lines()
        .skip_while(|l| !l.contains("<<END-OF-DATA"))
        .skip(1)
        .take_while(|l| *l != "END-OF-DATA")
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(sql.contains("CREATE TABLE Job"), "no tables in the script");
    let mut sqlite = Command::new("sqlite3")
        .arg(db)
        .stdin(Stdio::piped())
        .spawn()
        .expect("sqlite3");
    sqlite
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    assert!(sqlite.wait().unwrap().success(), "sqlite3 failed");
}

/// The job report's `Termination:` line.
fn termination(console: &str) -> &str {
    console
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with("Termination:"))
        .unwrap_or_else(|| panic!("no job report: {console}"))
        .trim()
}

fn files_of(target: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for sub in ["ntds", "logs"] {
        for entry in std::fs::read_dir(target.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}

#[test]
fn bacula_backs_up_the_readme_bpipe_fileset_restores_it_and_refuses_a_damaged_volume() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("dc1");
    let server = init_target(&target, &["--online", "--database-mib", "2", "--logs", "3"]);
    let files = files_of(&target);
    let started = Instant::now();
    let bacula = Bacula::start(&dir.path().join("bacula"), &readme_plugin_line(), &server);
    let ready = started.elapsed();
    assert!(
        ready < Duration::from_secs(60),
        "the daemons took {ready:?} to start"
    );

    let backup = bacula.console("run job=dc1 yes");
    assert_eq!(
        termination(&backup),
        "Termination:            Backup OK",
        "{backup}"
    );

    // A lost database: the target offline, its files junk.
    assert_eq!(run(&["target", "offline", target.to_str().unwrap()]).0, 0);
    for (path, _) in &files {
        std::fs::write(path, b"lost").unwrap();
    }
    let restore = bacula.console("restore jobid=1 where=/ all done yes");
    assert_eq!(
        termination(&restore),
        "Termination:            Restore OK",
        "{restore}"
    );
    assert!(
        files_of(&target) == files,
        "not restored byte for byte: {restore}"
    );

    // A byte changed inside the volume: the restore fails, dsrestore says
    // why in the job's log, and the target is left as it was.
    assert_eq!(run(&["target", "offline", target.to_str().unwrap()]).0, 0);
    let volumes = bacula.volumes();
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    let mut bytes = std::fs::read(&volumes[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&volumes[0], bytes).unwrap();
    let damaged = bacula.console("restore jobid=1 where=/ all done yes");
    assert_eq!(
        termination(&damaged),
        "Termination:            *** Restore Error ***",
        "{damaged}"
    );
    assert!(
        damaged.contains("dsrestore: error 0xc800020e hrInvalidBackup"),
        "{damaged}"
    );
    assert!(files_of(&target) == files, "the target changed: {damaged}");
}
