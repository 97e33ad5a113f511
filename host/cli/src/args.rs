//! The command line, as clap sees it. The subcommand names are a contract:
//! scripts and checks call them.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "dsrestore",
    version,
    about = "Directory-services backup and restore client (ntdsbcli DsBackup*/DsRestore*) in a WebAssembly sandbox",
    after_help = "Servers are local:<dir> (an embedded target in this process) or tcp://host:port (a dsrestore agent),\nor a name from the [servers] table of dsrestore.toml. An agent is reached over TLS and authenticated\nbefore anything is sent: by the pin in its name (tcp://host:port#sha256:<hex>, as the agent prints it),\n--pin, or --ca-file.\n\nExit codes: 0 ok, 1 other failure, 2 invalid input, 3 refused by the target,\n4 transport failure, 5 integrity failure (a damaged or incomplete backup set)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// The configuration file (default: $DSRESTORE_CONFIG, or else ./dsrestore.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print one JSON result on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Authenticate as this user (DOMAIN\user or user); the password comes from --password-env.
    #[arg(long, global = true, value_name = "DOMAIN\\USER")]
    pub user: Option<String>,
    /// The environment variable holding the password.
    #[arg(long, global = true, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Trust an agent whose certificate has this fingerprint (for servers
    /// whose name carries no #sha256:... of its own).
    #[arg(long, global = true, value_name = "sha256:HEX", conflicts_with_all = ["ca_file", "insecure_plaintext"])]
    pub pin: Option<String>,
    /// Trust an agent whose certificate this CA issued for the host dialled.
    #[arg(
        long,
        global = true,
        value_name = "PEM-FILE",
        conflicts_with = "insecure_plaintext"
    )]
    pub ca_file: Option<PathBuf>,
    /// No TLS: the password and the database cross the network in the clear.
    /// For `agent`, serve so; for clients, reach agents so (only an agent
    /// started with it, on a network you trust).
    #[arg(long, global = true)]
    pub insecure_plaintext: bool,
}

#[derive(Subcommand)]
pub enum Command {
    /// Manage a restore target on a local directory.
    #[command(subcommand)]
    Target(TargetCommand),
    /// Take a full backup of a server into a new backup set (DsBackupPrepare .. DsBackupEnd).
    Backup {
        /// The server to back up.
        #[arg(long)]
        server: String,
        /// The backup set's directory (must not exist yet, or be empty), or
        /// `-`: the set as one stream on stdout (a tar; docs/backup-set.md),
        /// for a backup host that stores what a command writes. The result
        /// line then goes to stderr.
        #[arg(long, value_name = "SET-DIR|-")]
        out: PathBuf,
        /// Replace an incomplete set in SET-DIR (what a stopped backup left:
        /// no manifest). A complete set, or anything else, is never replaced.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        encrypt: EncryptArgs,
    },
    /// Restore a backup set to a server in restore mode (DsRestorePrepare .. DsRestoreEnd).
    Restore {
        /// The backup set's directory, or `-`: a set stream on stdin (what
        /// `backup --out -` wrote). A stream is checked as it is read, and
        /// nothing is registered until all of it was read and checked.
        #[arg(long, value_name = "SET-DIR|-")]
        from: PathBuf,
        /// The server to restore to.
        #[arg(long)]
        server: String,
        /// Restore a backup that another server issued: this server takes
        /// that server's identity. Without it the target refuses the set
        /// (ERROR_ACCESS_DENIED); with it, its record notes the other server.
        #[arg(long)]
        to_other_server: bool,
        /// Every check, no change to the target: the set's age against its
        /// tombstone lifetime, the target (offline, DsRestorePrepare with the
        /// set's token, the locations, DsRestoreEnd), every file's size and
        /// SHA-256. Nothing is staged, sent or registered.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        decrypt: DecryptArgs,
    },
    /// Check a backup set's manifest, sizes and checksums without touching any target.
    Verify {
        /// The set's directory, or `-` for a set stream on stdin.
        #[arg(value_name = "SET-DIR|-")]
        set: PathBuf,
        #[command(flatten)]
        decrypt: DecryptArgs,
    },
    /// Ask whether the directory service on a server is online (DsIsNTDSOnline).
    IsOnline {
        #[arg(long)]
        server: String,
    },
    /// List where a restore puts its files (a restricted DsRestorePrepare and
    /// DsRestoreGetDatabaseLocations).
    Locations {
        #[arg(long)]
        server: String,
    },
    /// Serve a target to dsrestore clients over TCP, or manage its users.
    Agent(AgentArgs),
    /// Print a shell completion script: `source <(dsrestore completions bash)`,
    /// or save it where your shell looks (see the README, "Install").
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff: `dsrestore man | man -l -`), or write
    /// dsrestore.1 and a page per subcommand into a directory.
    Man {
        /// Write the pages into this directory (e.g. /usr/local/share/man/man1).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// The quickstart: create a sample target, back it up, take it offline,
    /// wipe its database, restore it, and print a summary.
    Demo {
        /// Where to put the sample target and set (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub enum TargetCommand {
    /// Create a sample target: a database, consecutive logs and a checkpoint;
    /// offline (restore mode) unless --online.
    Init {
        dir: PathBuf,
        /// Start with the directory service online.
        #[arg(long)]
        online: bool,
        /// The server's name (default: the directory's name).
        #[arg(long)]
        name: Option<String>,
        /// The sample database's size in MiB.
        #[arg(long, default_value_t = 4, value_name = "MIB")]
        database_mib: u64,
        /// How many logs to create (consecutive generations from 0x10).
        #[arg(long, default_value_t = 4)]
        logs: u32,
        /// Create no database, logs or checkpoint.
        #[arg(long, conflicts_with_all = ["database_mib", "logs"])]
        empty: bool,
    },
    /// Show a target's state and its restore-in-progress record.
    Status { dir: PathBuf },
    /// Start the directory service (refused while a restore is open, registered or failed).
    Online { dir: PathBuf },
    /// Stop the directory service (restore mode).
    Offline { dir: PathBuf },
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub command: Option<AgentCommand>,
    /// The target directory to serve.
    #[arg(long, required = true)]
    pub target: Option<PathBuf>,
    /// The address to listen on; port 0 picks a free port (printed at start).
    #[arg(long, default_value = "127.0.0.1:8389")]
    pub listen: SocketAddr,
    /// Serve Prometheus metrics (connections, authentications, sessions,
    /// restores and backups by outcome, bytes) at http://ADDR/metrics; port
    /// 0 picks a free port (printed on the first line). Counters only: keep
    /// it on a trusted address.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// The users file (default: <target>/state/agent-users.json).
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
    /// Close an authenticated connection idle for this many seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub idle_timeout: u64,
    /// Close a connection that has not authenticated this many seconds
    /// after it was accepted.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub auth_deadline: u64,
    /// Open connections at most; more are closed at once.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub max_connections: usize,
    /// Open connections from one address at most; more are closed at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_connections_per_address: usize,
    /// The agent's certificate chain (PEM), issued by your CA; with --key.
    /// Default: a self-signed certificate the agent creates on first start
    /// in <target>/state/agent-tls.pem and keeps.
    #[arg(long, value_name = "PEM-FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key (PEM) of --cert.
    #[arg(long, value_name = "PEM-FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum AgentCommand {
    /// Print the fingerprint of the certificate an agent presents, as a
    /// server name to pin it by (tcp://host:port#sha256:<hex>), the way
    /// ssh-keyscan reads host keys. Sends nothing but the TLS handshake;
    /// check the fingerprint against the agent's own first line.
    Fingerprint {
        /// The agent: tcp://host:port.
        #[arg(value_name = "tcp://HOST:PORT")]
        server: String,
    },
    /// Add (or replace) a user the agent accepts; the password is read from
    /// --password-env's variable, or from stdin's first line.
    AddUser {
        /// The target directory whose agent accepts the user.
        #[arg(long)]
        target: PathBuf,
        /// DOMAIN\user or user.
        #[arg(value_name = "DOMAIN\\USER")]
        name: String,
        /// The users file (default: <target>/state/agent-users.json).
        #[arg(long, value_name = "FILE")]
        users: Option<PathBuf>,
    },
}

/// How `backup --out -` encrypts its stream (age).
#[derive(Args, Debug, Clone, Default)]
pub struct EncryptArgs {
    /// Encrypt the set (a directory or a stream) to this age recipient
    /// (age1..., from `age-keygen`); repeatable: any one's identity
    /// decrypts it.
    #[arg(long, value_name = "RECIPIENT", conflicts_with = "passphrase_env")]
    pub encrypt_to: Vec<String>,
    /// Encrypt the set to the passphrase in this environment variable.
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}

/// How `restore` and `verify` decrypt an encrypted set or stream.
#[derive(Args, Debug, Clone, Default)]
pub struct DecryptArgs {
    /// Decrypt the set with the age identities in this file; repeatable.
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_env")]
    pub identity: Vec<PathBuf>,
    /// Decrypt the set with the passphrase in this environment variable.
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}
