//! `dsrestore agent`: serve a target over TLS; `dsrestore agent add-user`;
//! `dsrestore agent fingerprint`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use dsrestore_host::agent::certificate::Origin;
use dsrestore_host::agent::{
    serve_metrics, Agent, AgentCertificate, AgentOptions, AgentReloader, Security, Users,
};
use dsrestore_host::{codes, Error, Target, Trust};
use serde_json::json;

use crate::args::{AgentArgs, AgentCommand, Global};
use crate::outcome::succeed;
use crate::settings::{split_user, Settings};

fn users_file(target: &Path, explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| target.join("state").join("agent-users.json"))
}

pub fn run(args: AgentArgs, global: &Global, settings: &Settings) -> Result<ExitCode, Error> {
    match args.command {
        Some(AgentCommand::AddUser {
            target,
            name,
            users,
        }) => return add_user(&target, &name, users, global, settings),
        Some(AgentCommand::Fingerprint { server }) => {
            return fingerprint(&server, global, settings)
        }
        None => {}
    }
    let dir = args
        .target
        .clone()
        .expect("clap requires --target without a subcommand");
    let target = Target::open(&dir)?;
    let users_path = users_file(target.layout().root(), args.users.clone());
    let users = Users::load(&users_path)?;
    let source = CertificateSource::of(&args, global, &target)?;
    let (security, trust) = source.load(true)?;
    let agent = Agent::new(
        target.clone(),
        users,
        security,
        AgentOptions {
            idle_timeout: Duration::from_secs(args.idle_timeout),
            auth_deadline: Duration::from_secs(args.auth_deadline),
            max_connections: args.max_connections,
            max_connections_per_address: args.max_connections_per_address,
            ..AgentOptions::default()
        },
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the agent's runtime", e))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Error::io(&format!("listening on {}", args.listen), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::io("reading the listening address", e))?;
        // SIGHUP reloads from here on; watched before the first line is
        // printed, so that a reload right after start cannot kill the agent
        // (SIGHUP's default action).
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(hangups) => {
                tokio::spawn(reload_on_sighup(
                    hangups,
                    agent.reloader(),
                    users_path,
                    source,
                ));
            }
            Err(e) => tracing::warn!("cannot watch SIGHUP, so no reloads: {e}"),
        }
        let metrics = match args.metrics_listen {
            Some(address) => {
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .map_err(|e| Error::io(&format!("listening for metrics on {address}"), e))?;
                let url = format!(
                    "http://{}/metrics",
                    listener
                        .local_addr()
                        .map_err(|e| Error::io("reading the metrics address", e))?
                );
                tokio::spawn(serve_metrics(
                    listener,
                    agent.metrics(),
                    std::future::pending(),
                ));
                Some(url)
            }
            None => None,
        };
        // The first line of stdout says where to connect, as a server name
        // that pins this agent's certificate (scripts read it).
        let server = format!("tcp://{local}#{}", trust.fragment());
        if global.json {
            crate::outcome::stdout_line(
                &json!({"listening": local.to_string(), "server": server, "target": target.name(),
                        "metrics": metrics})
                .to_string(),
            );
        } else {
            let metrics = metrics.map_or(String::new(), |url| format!("; metrics on {url}"));
            crate::outcome::stdout_line(&format!(
                "listening on {server} for target {}{metrics}",
                target.name()
            ));
        }
        if trust == Trust::InsecurePlaintext {
            eprintln!(
                "warning: serving without TLS (--insecure-plaintext): passwords and the database \
                 cross the network unencrypted{}",
                if local.ip().is_loopback() {
                    ""
                } else {
                    ", and this address is reachable from other machines"
                }
            );
        }
        let _ = std::io::stdout().flush();
        agent.serve(listener, shutdown_signal()).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Where the agent's certificate comes from, read at start and again on
/// SIGHUP.
enum CertificateSource {
    /// `--insecure-plaintext`: none.
    Plaintext,
    /// `--cert` and `--key`.
    Files { cert: PathBuf, key: PathBuf },
    /// The one the agent made for itself in the target's state directory.
    Own { state_dir: PathBuf, name: String },
}

impl CertificateSource {
    fn of(args: &AgentArgs, global: &Global, target: &Target) -> Result<Self, Error> {
        if global.insecure_plaintext {
            if args.cert.is_some() {
                return Err(Error::new(
                    codes::ERROR_INVALID_PARAMETER,
                    "--insecure-plaintext and --cert contradict each other: choose one",
                ));
            }
            return Ok(CertificateSource::Plaintext);
        }
        Ok(match (&args.cert, &args.key) {
            (Some(cert), Some(key)) => CertificateSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => CertificateSource::Own {
                state_dir: target.layout().state_dir(),
                name: target.name().to_string(),
            },
        })
    }

    /// How the agent protects its connections, and the trust a client needs
    /// for it (what the first line prints). `starting` reports a certificate
    /// made now.
    fn load(&self, starting: bool) -> Result<(Security, Trust), Error> {
        let certificate = match self {
            CertificateSource::Plaintext => {
                return Ok((Security::InsecurePlaintext, Trust::InsecurePlaintext))
            }
            CertificateSource::Files { cert, key } => AgentCertificate::from_files(cert, key)?,
            CertificateSource::Own { state_dir, name } => {
                AgentCertificate::load_or_create(state_dir, name)?
            }
        };
        match certificate.origin() {
            Origin::Created(path) if starting => eprintln!(
                "created the agent's certificate {} in {}: clients pin it",
                certificate.fingerprint(),
                path.display()
            ),
            origin => {
                tracing::info!(?origin, fingerprint = %certificate.fingerprint(), "the agent's certificate")
            }
        }
        Ok((
            Security::Tls(certificate.server_config()?),
            Trust::Pinned(certificate.fingerprint()),
        ))
    }
}

/// On each SIGHUP, reads the users file and the certificate again and gives
/// them to the agent: connections from then on use them, open ones carry on.
/// What does not load is reported, and the agent keeps what it had.
async fn reload_on_sighup(
    mut hangups: tokio::signal::unix::Signal,
    reloader: AgentReloader,
    users_path: PathBuf,
    source: CertificateSource,
) {
    while hangups.recv().await.is_some() {
        match Users::load(&users_path).and_then(|users| {
            let count = users.len();
            reloader.set_users(users).map(|()| count)
        }) {
            Ok(count) => eprintln!(
                "SIGHUP: reloaded {count} user(s) from {}",
                users_path.display()
            ),
            Err(e) => eprintln!("SIGHUP: kept the users the agent had: {e}"),
        }
        if matches!(source, CertificateSource::Plaintext) {
            continue;
        }
        match source
            .load(false)
            .and_then(|(security, trust)| reloader.set_security(security).map(|()| trust))
        {
            Ok(trust) => eprintln!(
                "SIGHUP: reloaded the certificate: new connections pin {}",
                trust.fragment()
            ),
            Err(e) => eprintln!("SIGHUP: kept the certificate the agent had: {e}"),
        }
    }
}

/// `dsrestore agent fingerprint tcp://host:port`.
fn fingerprint(server: &str, global: &Global, settings: &Settings) -> Result<ExitCode, Error> {
    let server = crate::settings::server(settings, global, server)?;
    let address = server
        .split('#')
        .next()
        .unwrap_or(&server)
        .trim_end_matches('/');
    let fingerprint = settings.tcp(&global.overrides())?.fingerprint(address)?;
    let pinned = format!("{address}#{fingerprint}");
    Ok(succeed(
        global.json,
        json!({"server": pinned, "fingerprint": fingerprint.to_string()}),
        || pinned.clone(),
    ))
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}

fn add_user(
    target: &Path,
    name: &str,
    users: Option<PathBuf>,
    global: &Global,
    settings: &Settings,
) -> Result<ExitCode, Error> {
    // The target must exist: its directory holds the default users file.
    let target = Target::open(target)?;
    let path = users_file(target.layout().root(), users);
    let var = settings.password_env(&global.overrides());
    let password = match std::env::var(&var) {
        Ok(p) => p,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Error::io("reading the password from stdin", e))?;
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    if password.is_empty() {
        return Err(Error::new(
            codes::ERROR_INVALID_PARAMETER,
            format!("no password for {name}: set {var} or give it on stdin"),
        ));
    }
    let (domain, user) = split_user(name);
    let mut all = Users::load(&path)?;
    all.set(&domain, &user, &password)?;
    all.store(&path)?;
    Ok(succeed(
        global.json,
        json!({"user": name, "users-file": path, "users": all.len()}),
        || {
            format!(
                "user {name} added to {} ({} users)",
                path.display(),
                all.len()
            )
        },
    ))
}
