//! The restore workflow: check the set's structure, check the directory
//! service is offline, DsRestorePrepare with the set's token, the locations;
//! deliver every file (copied beside its destination, or sent to the target)
//! while every size and SHA-256 is checked, so a bad set stops here with the
//! target as it was; DsRestoreRegister (from here the target is blocked);
//! put the files in place; DsRestoreRegisterComplete with S_OK or the
//! failure's code; DsRestoreEnd, on every path.

use std::io::Read;
use std::path::{Component, Path};

use dsrestore_protocol::{bft, codes, Error, Location, Registration, RestoreMapEntry};
use dsrestore_set_format::token::{ExpiryToken, Lifetime};

use crate::context::{Client, FileDelivery, RestoreContext, RestoreOptions};
use crate::progress::{Progress, RestoreReport, Stage};
use crate::set::{BackupSet, FileKind};
use crate::source::{Source, StreamSource};
use crate::staging::{self, Plan};
use crate::stream::StreamReader;

/// The size of each put-data request (well under the default request limit).
const UPLOAD_CHUNK: usize = 256 << 10;

/// Restores the set in `set_dir` to `server` through `client`.
pub fn restore<C: Client>(
    client: &C,
    set_dir: &Path,
    server: &str,
    options: &RestoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RestoreReport, Error> {
    restore_set(client, BackupSet::open(set_dir)?, server, options, progress)
}

/// [`restore`] of a set already opened: e.g. an encrypted one
/// (`BackupSet::open_encrypted`).
pub fn restore_set<C: Client>(
    client: &C,
    mut set: BackupSet,
    server: &str,
    options: &RestoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RestoreReport, Error> {
    set.check_structure()?;
    let token = set.expiry_token()?;
    restore_from(client, &mut set, &token, server, options, progress)
}

/// Restores the set read from the stream `input` (`crate::stream`) to
/// `server`: its head first (the files to come and the token), then each
/// file delivered as it arrives, its size and SHA-256 checked as it streams;
/// the stream's manifest, last, is checked against every checksum before
/// anything is registered, so a stream cut short or damaged leaves the
/// target as it was.
pub fn restore_from_stream<C: Client, R: Read>(
    client: &C,
    input: R,
    server: &str,
    options: &RestoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RestoreReport, Error> {
    let mut archive = tar::Archive::new(input);
    let reader = StreamReader::open(&mut archive)?;
    let token = reader
        .head()
        .expiry_token(&format!("the set stream's {}", crate::stream::HEAD))?;
    let mut source = StreamSource::new(reader);
    restore_from(client, &mut source, &token, server, options, progress)
}

/// Where the set with `token` stands in its useful life now; an expired one
/// is refused (hrContentsExpired) before any target is contacted, and one
/// past half its life is logged.
pub fn lifetime_of(token: &[u8]) -> Result<Lifetime, Error> {
    let token = ExpiryToken::decode(token)?;
    let life = Lifetime::of(&token, crate::backup::now());
    if life.expired() {
        return Err(Error::new(
            codes::HR_CONTENTS_EXPIRED,
            format!(
                "the set of {} was {}: restoring it would bring back what the domain deleted since; restore a newer set",
                token.server,
                life.describe()
            ),
        ));
    }
    if life.past_half() {
        tracing::warn!(
            "the set of {} was {}: take a new backup soon",
            token.server,
            life.describe()
        );
    }
    Ok(life)
}

fn restore_from<C: Client>(
    client: &C,
    source: &mut dyn Source,
    token: &[u8],
    server: &str,
    options: &RestoreOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RestoreReport, Error> {
    let lifetime = lifetime_of(token)?;
    let total = source.manifest().total_bytes();
    let files = source.manifest().files.len();
    if client.is_ntds_online(server)? {
        return Err(Error::new(
            codes::ERROR_SERVICE_ALREADY_RUNNING,
            format!("{server}: the directory service is online; take it offline (restore mode) before a restore"),
        ));
    }
    let delivery = client.file_delivery(server);
    let mut context = client.prepare_restore(server, token, options)?;
    let restored = if options.dry_run {
        dry_run(&mut context, source, total, progress)
    } else {
        restore_into(&mut context, delivery, source, total, progress)
    };
    let ended = context.end();
    let (locations, (gen_low, gen_high)) = restored?;
    let leaked_bindings = ended?;
    Ok(RestoreReport {
        files,
        bytes: total,
        gen_low,
        gen_high,
        leaked_bindings,
        lifetime,
        locations,
        dry_run: options.dry_run,
    })
}

/// A dry run's part with the context open: the locations, then every
/// file's size and SHA-256 read through; nothing staged, sent or registered.
fn dry_run(
    context: &mut impl RestoreContext,
    source: &mut dyn Source,
    total: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Vec<Location>, (u32, u32)), Error> {
    let locations = context.database_locations()?;
    let manifest = source.manifest().clone();
    let mut done = 0;
    for file in &manifest.files {
        source.read(file, crate::set::READ_CHUNK, true, &mut |chunk| {
            done += chunk.len() as u64;
            progress(&Progress {
                stage: Stage::Verify,
                file: &file.name,
                done,
                total,
            });
            Ok(())
        })?;
    }
    source.finish()?;
    Ok((locations, manifest.generations()))
}

/// The path of the location of BFT `kind`, checked to be a plain absolute path.
fn location(locations: &[Location], kind: u8) -> Result<&str, Error> {
    let name = bft::wit_name(kind);
    let path = locations
        .iter()
        .find(|l| l.bft == kind)
        .map(|l| l.path.as_str())
        .ok_or_else(|| {
            Error::new(
                codes::HR_ERROR,
                format!("the target gave no {name} location"),
            )
        })?;
    let p = Path::new(path);
    if !p.is_absolute() || p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(Error::new(
            codes::ERROR_ACCESS_DENIED,
            format!("the target's {name} location {path:?} is not a plain absolute path"),
        ));
    }
    Ok(path)
}

/// Where the files go before register, and how they are put in place after.
enum Delivery {
    /// Staged by this client beside the destinations.
    Local(Plan),
    /// Sent to the target, which stages them on its side.
    Upload,
}

/// Delivers, registers, places, completes. Returns the generations registered.
fn restore_into(
    context: &mut impl RestoreContext,
    delivery: FileDelivery,
    source: &mut dyn Source,
    total: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(Vec<Location>, (u32, u32)), Error> {
    let locations = context.database_locations()?;
    let database = location(&locations, bft::NTDS_DATABASE)?.to_string();
    let log_dir = location(&locations, bft::LOG_DIR)?.to_string();
    let checkpoint_dir = location(&locations, bft::CHECKPOINT_DIR)?.to_string();
    let manifest = source.manifest().clone();
    let (gen_low, gen_high) = manifest.generations();
    let delivery = match delivery {
        FileDelivery::LocalCopy => Delivery::Local(Plan::for_manifest(
            &manifest,
            Path::new(&database),
            Path::new(&log_dir),
            Path::new(&checkpoint_dir),
            &staging::local_tag(),
        )?),
        FileDelivery::Upload => Delivery::Upload,
    };
    let mut report = |file: &str, done| {
        progress(&Progress {
            stage: Stage::Verify,
            file,
            done,
            total,
        })
    };
    match &delivery {
        Delivery::Local(plan) => plan.stage(source, &mut report)?,
        Delivery::Upload => upload(context, source, &mut report)?,
    }
    // A stream's checksums, against its manifest: nothing is registered
    // before every byte is known to be the set's.
    if let Err(e) = source.finish() {
        if let Delivery::Local(plan) = &delivery {
            plan.remove_staged();
        }
        return Err(e);
    }
    let registered = context.register(&Registration {
        checkpoint_file_path: checkpoint_dir,
        log_path: log_dir.clone(),
        restore_map: vec![RestoreMapEntry {
            database_name: manifest.original_database().to_string(),
            new_database_name: database,
        }],
        backup_log_path: log_dir,
        gen_low,
        gen_high,
    });
    if let Err(e) = registered {
        if let Delivery::Local(plan) = &delivery {
            plan.remove_staged();
        }
        return Err(e);
    }
    // From here the target is blocked until register-complete(S_OK).
    let placed = match &delivery {
        Delivery::Local(plan) => plan.place().inspect_err(|_| plan.remove_staged()),
        Delivery::Upload => context.place_files(),
    };
    match placed {
        Ok(()) => {
            progress(&Progress {
                stage: Stage::Restore,
                file: "",
                done: total,
                total,
            });
            context.register_complete(codes::S_OK)?;
            // Complete: the old files placing moved aside can go.
            if let Delivery::Local(plan) = &delivery {
                plan.discard_set_aside();
            }
        }
        Err(e) => {
            if let Err(complete) = context.register_complete(e.code) {
                tracing::error!("register-complete after a failed restore failed too: {complete}");
            }
            return Err(e);
        }
    }
    Ok((locations, (gen_low, gen_high)))
}

/// Sends every file of the set to the target (put-file, put-data,
/// put-file-end with the manifest's SHA-256), each read once. The target
/// hashes what arrives and refuses a file whose checksum is not the
/// manifest's (hrInvalidBackup at put-file-end, named here by the set's
/// file), so the bytes are hashed once, where they land: hashing them here
/// as well cost a restore through an agent 12% of its time
/// (docs/performance.md). A file whose size is wrong stops before it is
/// sent. The target removes what was staged but never placed when the
/// session ends, so a damaged set registers nothing. A stream's files are
/// hashed here as they pass (their checksums come last, in its manifest):
/// the target gets the checksum computed here, which checks the transfer,
/// and [`Source::finish`] checks it against the manifest before register.
fn upload(
    context: &mut impl RestoreContext,
    source: &mut dyn Source,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<(), Error> {
    let mut done = 0;
    for file in &source.manifest().files.clone() {
        let kind = match file.kind {
            FileKind::NtdsDatabase => bft::NTDS_DATABASE,
            FileKind::Log => bft::LOG,
            FileKind::Checkpoint => bft::CHECKPOINT_DIR,
        };
        context.put_file(kind, &file.name, file.size)?;
        let sha256 = source.read(file, UPLOAD_CHUNK, false, &mut |chunk| {
            context.put_data(chunk)?;
            done += chunk.len() as u64;
            progress(&file.name, done);
            Ok(())
        })?;
        context
            .put_file_end(&sha256)
            .map_err(|e| Error::new(e.code, format!("{}: {}", source.name_of(file), e.message)))?;
    }
    Ok(())
}
