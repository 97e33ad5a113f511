//! The restore workflow: check the set's structure, check the directory
//! service is offline, DsRestorePrepare with the set's token, the locations;
//! deliver every file (copied beside its destination, or sent to the target)
//! while every size and SHA-256 is checked, so a bad set stops here with the
//! target as it was; DsRestoreRegister (from here the target is blocked);
//! put the files in place; DsRestoreRegisterComplete with S_OK or the
//! failure's code; DsRestoreEnd, on every path.

use std::path::{Component, Path};

use dsrestore_protocol::{bft, codes, Error, Location, Registration, RestoreMapEntry};

use crate::context::{Client, FileDelivery, RestoreContext, RestoreOptions};
use crate::progress::{Progress, RestoreReport, Stage};
use crate::set::{BackupSet, FileKind};
use crate::staging::{self, Plan};

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
    let set = BackupSet::open(set_dir)?;
    let total = set.manifest().total_bytes();
    set.check_structure()?;
    let token = set.expiry_token()?;
    if client.is_ntds_online(server)? {
        return Err(Error::new(
            codes::ERROR_SERVICE_ALREADY_RUNNING,
            format!("{server}: the directory service is online; take it offline (restore mode) before a restore"),
        ));
    }
    let delivery = client.file_delivery(server);
    let mut context = client.prepare_restore(server, &token, options)?;
    let restored = restore_into(&mut context, delivery, &set, total, progress);
    let ended = context.end();
    let (gen_low, gen_high) = restored?;
    let leaked_bindings = ended?;
    Ok(RestoreReport {
        files: set.manifest().files.len(),
        bytes: total,
        gen_low,
        gen_high,
        leaked_bindings,
    })
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
    set: &BackupSet,
    total: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(u32, u32), Error> {
    let locations = context.database_locations()?;
    let database = location(&locations, bft::NTDS_DATABASE)?.to_string();
    let log_dir = location(&locations, bft::LOG_DIR)?.to_string();
    let checkpoint_dir = location(&locations, bft::CHECKPOINT_DIR)?.to_string();
    let (gen_low, gen_high) = set.generations();
    let delivery = match delivery {
        FileDelivery::LocalCopy => Delivery::Local(Plan::for_set(
            set,
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
        Delivery::Local(plan) => plan.stage(set, &mut report)?,
        Delivery::Upload => upload(context, set, &mut report)?,
    }
    let registered = context.register(&Registration {
        checkpoint_file_path: checkpoint_dir,
        log_path: log_dir.clone(),
        restore_map: vec![RestoreMapEntry {
            database_name: set.manifest().original_database().to_string(),
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
    Ok((gen_low, gen_high))
}

/// Sends every file of the set to the target (put-file, put-data,
/// put-file-end with the manifest's SHA-256), each read once. The target
/// hashes what arrives and refuses a file whose checksum is not the
/// manifest's (hrInvalidBackup at put-file-end, named here by the set's
/// file), so the bytes are hashed once, where they land: hashing them here
/// as well cost a restore through an agent 12% of its time
/// (docs/performance.md). A file whose size is wrong stops before it is
/// sent. The target removes what was staged but never placed when the
/// session ends, so a damaged set registers nothing.
fn upload(
    context: &mut impl RestoreContext,
    set: &BackupSet,
    progress: &mut dyn FnMut(&str, u64),
) -> Result<(), Error> {
    let mut done = 0;
    for file in &set.manifest().files {
        let kind = match file.kind {
            FileKind::NtdsDatabase => bft::NTDS_DATABASE,
            FileKind::Log => bft::LOG,
            FileKind::Checkpoint => bft::CHECKPOINT_DIR,
        };
        context.put_file(kind, &file.name, file.size)?;
        set.read_sized(file, UPLOAD_CHUNK, &mut |chunk| {
            context.put_data(chunk)?;
            done += chunk.len() as u64;
            progress(&file.name, done);
            Ok(())
        })?;
        context.put_file_end(&file.sha256).map_err(|e| {
            let path = set.path_of(file);
            Error::new(e.code, format!("{}: {}", path.display(), e.message))
        })?;
    }
    Ok(())
}
