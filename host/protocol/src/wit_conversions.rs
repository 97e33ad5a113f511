//! The conversions between the protocol's types and a WIT binding's, written
//! once for every binding generator: the guest's and the wasm command's
//! (wit-bindgen) and the host's (wasmtime's bindgen) each generate their own
//! `Bft`, `Registration`, `RestoreMapEntry` and `DatabaseLocation` from
//! `wit/backup.wit`, with the same names and fields.

/// Defines, where it is invoked, the conversions between the protocol's
/// types and those of the module `$types` (which holds the generated `Bft`,
/// `Registration`, `RestoreMapEntry` and `DatabaseLocation`):
/// `bft_code`, `bft_kind`, `registration_to_wire`, `registration_from_wire`,
/// `location_to_wire` and `location_from_wire`.
///
/// ```ignore
/// mod wit {
///     dsrestore_protocol::wit_conversions!(crate::bindings::dsrestore::backup::types);
/// }
/// ```
#[macro_export]
macro_rules! wit_conversions {
    ($($types:ident)::+) => {
        /// The BFT code of ntdsbcli's header for a WIT `bft`.
        #[allow(dead_code)]
        pub fn bft_code(kind: $($types)::+::Bft) -> u8 {
            use $($types)::+::Bft;
            use $crate::bft;
            match kind {
                Bft::Log => bft::LOG,
                Bft::LogDir => bft::LOG_DIR,
                Bft::CheckpointDir => bft::CHECKPOINT_DIR,
                Bft::NtdsDatabase => bft::NTDS_DATABASE,
                Bft::PatchFile => bft::PATCH_FILE,
                Bft::Unknown => bft::UNKNOWN,
            }
        }

        /// The WIT `bft` of a BFT code (`unknown` for codes the WIT does not name).
        #[allow(dead_code)]
        pub fn bft_kind(code: u8) -> $($types)::+::Bft {
            use $($types)::+::Bft;
            use $crate::bft;
            match code {
                bft::LOG => Bft::Log,
                bft::LOG_DIR => Bft::LogDir,
                bft::CHECKPOINT_DIR => Bft::CheckpointDir,
                bft::NTDS_DATABASE => Bft::NtdsDatabase,
                bft::PATCH_FILE => Bft::PatchFile,
                _ => Bft::Unknown,
            }
        }

        /// A WIT registration as the protocol carries it.
        #[allow(dead_code)]
        pub fn registration_to_wire(r: &$($types)::+::Registration) -> $crate::Registration {
            $crate::Registration {
                checkpoint_file_path: r.checkpoint_file_path.clone(),
                log_path: r.log_path.clone(),
                restore_map: r
                    .restore_map
                    .iter()
                    .map(|m| $crate::RestoreMapEntry {
                        database_name: m.database_name.clone(),
                        new_database_name: m.new_database_name.clone(),
                    })
                    .collect(),
                backup_log_path: r.backup_log_path.clone(),
                gen_low: r.gen_low,
                gen_high: r.gen_high,
            }
        }

        /// The protocol's registration as the WIT types it.
        #[allow(dead_code)]
        pub fn registration_from_wire(r: &$crate::Registration) -> $($types)::+::Registration {
            $($types)::+::Registration {
                checkpoint_file_path: r.checkpoint_file_path.clone(),
                log_path: r.log_path.clone(),
                restore_map: r
                    .restore_map
                    .iter()
                    .map(|m| $($types)::+::RestoreMapEntry {
                        database_name: m.database_name.clone(),
                        new_database_name: m.new_database_name.clone(),
                    })
                    .collect(),
                backup_log_path: r.backup_log_path.clone(),
                gen_low: r.gen_low,
                gen_high: r.gen_high,
            }
        }

        /// A WIT location as the protocol carries it.
        #[allow(dead_code)]
        pub fn location_to_wire(l: $($types)::+::DatabaseLocation) -> $crate::Location {
            $crate::Location {
                bft: bft_code(l.kind),
                path: l.path,
            }
        }

        /// The protocol's location as the WIT types it.
        #[allow(dead_code)]
        pub fn location_from_wire(l: $crate::Location) -> $($types)::+::DatabaseLocation {
            $($types)::+::DatabaseLocation {
                kind: bft_kind(l.bft),
                path: l.path,
            }
        }
    };
}
