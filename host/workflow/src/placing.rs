//! Putting staged files in place, keeping the old ones until the restore
//! completed, and getting back to one whole state after a crash.
//!
//! Placing moves every restore artifact of the target's directories aside
//! (`<name>.dsrestore-old-<tag>`, an atomic rename in the same directory),
//! then renames the staged files in. A journal in the first directory,
//! `dsrestore-placing-<tag>`, written durably before each phase, says how far
//! it got:
//!
//! | phase          | what is true                                              |
//! |----------------|-----------------------------------------------------------|
//! | `set-aside`    | old files are being moved aside; nothing new is in place   |
//! | `placing`      | every old file is aside; every artifact at its name is new |
//! | `rolling-back` | no new file is in place; old files are being moved back    |
//!
//! After the restore completed (register-complete with S_OK), the old files
//! are removed and then the journal. Whoever finds a journal later (the
//! target, when it is next opened or prepares a restore, holding the restore
//! lock: no restore is alive) finishes the job with [`recover`]: if the
//! restore completed and placing had finished, the new files stay and the old
//! ones go; otherwise the new files go and the old ones come back. Each step
//! can itself be killed and [`recover`] run again: it never deletes an old
//! file, and never leaves a mix of old and new.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use dsrestore_protocol::Error;
use serde::Serialize;

use crate::data_dir::{DataDir, EntryKind};
use crate::failpoint;
use crate::staging::{is_restore_artifact, remove_orphans_in, staging_name, Plan, STAGING_MARK};

/// What an old file moved aside carries after its name, before the tag.
const ASIDE_MARK: &str = ".dsrestore-old-";

/// The journal's name, before the tag.
const JOURNAL_PREFIX: &str = "dsrestore-placing-";

/// How far a placement got (the journal's content).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    SetAside,
    Placing,
    RollingBack,
}

impl Phase {
    /// The phase as the journal spells it (`set-aside`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::SetAside => "set-aside",
            Phase::Placing => "placing",
            Phase::RollingBack => "rolling-back",
        }
    }

    fn parse(text: &str) -> Option<Phase> {
        [Phase::SetAside, Phase::Placing, Phase::RollingBack]
            .into_iter()
            .find(|p| p.name() == text.trim())
    }
}

/// What [`recover`] did with one placement it found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The restore had completed: the new files stay, the old ones were removed.
    KeptNew,
    /// The restore had not completed: the new files were removed and the
    /// old ones put back.
    RolledBack,
}

/// One placement [`recover`] found and finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Recovered {
    /// The session tag of the placement.
    pub tag: String,
    /// The phase its journal was in.
    pub phase: Phase,
    pub outcome: Outcome,
    /// Old files removed (kept-new) or put back (rolled-back).
    pub old_files: usize,
    /// New files removed (rolled-back only).
    pub new_files_removed: usize,
}

/// What [`recover`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Recovery {
    pub placements: Vec<Recovered>,
    /// Staged files of dead sessions removed.
    pub staging_removed: usize,
}

impl Recovery {
    /// Whether there was nothing to do.
    pub fn is_empty(&self) -> bool {
        self.placements.is_empty() && self.staging_removed == 0
    }
}

/// A placement's journal, in the first of the placement's directories.
struct Journal<'a> {
    dir: &'a DataDir,
    tag: String,
}

impl Journal<'_> {
    fn name(&self) -> String {
        format!("{JOURNAL_PREFIX}{}", self.tag)
    }

    fn path(&self) -> PathBuf {
        self.dir.join(&self.name())
    }

    /// Records `phase` durably: written under a staging name (new, never
    /// through a link), fsynced, renamed over the journal, directory fsynced.
    fn write(&self, phase: Phase) -> io::Result<()> {
        let name = self.name();
        let temporary = staging_name(&name, &self.tag);
        match self.dir.remove(&temporary) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut file = self.dir.create_new(&temporary)?;
        file.write_all(phase.name().as_bytes())?;
        file.sync_all()?;
        self.dir.rename(&temporary, &name)?;
        self.dir.sync()?;
        failpoint::hit(&format!("journal-{}", phase.name()));
        Ok(())
    }

    /// The phase, or `None` when the journal is not a file of ours.
    fn read(&self) -> io::Result<Option<Phase>> {
        let mut text = String::new();
        match self.dir.open_read(&self.name()) {
            Ok(file) => {
                file.take(64).read_to_string(&mut text)?;
                Ok(Phase::parse(&text))
            }
            Err(_) if self.dir.kind(&self.name())? != Some(EntryKind::File) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn remove(&self) -> io::Result<()> {
        self.dir.remove(&self.name())?;
        self.dir.sync()?;
        failpoint::hit("journal-removed");
        Ok(())
    }
}

/// The names in `dir` (files and links only) that pass `keep`.
fn names_where(dir: &DataDir, keep: impl Fn(&str) -> bool) -> io::Result<Vec<String>> {
    Ok(dir
        .entries()?
        .into_iter()
        .filter(|(name, kind)| *kind != EntryKind::Dir && keep(name))
        .map(|(name, _)| name)
        .collect())
}

/// The restore artifacts (regular files only) in `dir`: what placing replaces.
fn artifacts_in(dir: &DataDir) -> io::Result<Vec<String>> {
    Ok(dir
        .entries()?
        .into_iter()
        .filter(|(name, kind)| *kind == EntryKind::File && is_restore_artifact(name))
        .map(|(name, _)| name)
        .collect())
}

/// The old files of placement `tag` in `dir`: (original name, name aside).
fn aside_in(dir: &DataDir, tag: &str) -> io::Result<Vec<(String, String)>> {
    let suffix = format!("{ASIDE_MARK}{tag}");
    Ok(names_where(dir, |n| n.ends_with(&suffix))?
        .into_iter()
        .filter_map(|moved| {
            let original = moved.strip_suffix(&suffix)?.to_string();
            (!original.is_empty()).then_some((original, moved))
        })
        .collect())
}

fn aside_name(original: &str, tag: &str) -> String {
    format!("{original}{ASIDE_MARK}{tag}")
}

fn sync_all(dirs: &[DataDir]) -> io::Result<()> {
    dirs.iter().try_for_each(DataDir::sync)
}

/// Puts the old files of the journal's placement back under their names,
/// then removes the journal. No new file is in place any more.
fn move_back(dirs: &[DataDir], journal: &Journal) -> io::Result<usize> {
    let mut moved_back = 0;
    for dir in dirs {
        for (original, moved) in aside_in(dir, &journal.tag)? {
            if dir.kind(&original)?.is_some() {
                // Never put over something: the old file stays aside, visible.
                tracing::error!(
                    "{} exists; its old file stays at {}",
                    dir.join(&original).display(),
                    dir.join(&moved).display()
                );
                continue;
            }
            dir.rename(&moved, &original)?;
            failpoint::hit("moved-back");
            moved_back += 1;
        }
    }
    sync_all(dirs)?;
    journal.remove()?;
    Ok(moved_back)
}

/// Removes the old files of the journal's placement, then the journal.
fn discard_aside(dirs: &[DataDir], journal: &Journal) -> io::Result<usize> {
    let mut removed = 0;
    for dir in dirs {
        for (_, moved) in aside_in(dir, &journal.tag)? {
            dir.remove(&moved)?;
            failpoint::hit("old-file-removed");
            removed += 1;
        }
    }
    sync_all(dirs)?;
    journal.remove()?;
    Ok(removed)
}

/// Undoes a placement from its journal's phase, by names alone: in `placing`
/// every restore artifact is new and is removed; then the old files go back.
fn roll_back(dirs: &[DataDir], journal: &Journal, phase: Phase) -> io::Result<Recovered> {
    let mut new_files_removed = 0;
    if phase == Phase::Placing {
        for dir in dirs {
            for new in artifacts_in(dir)? {
                dir.remove(&new)?;
                failpoint::hit("new-file-removed");
                new_files_removed += 1;
            }
        }
        sync_all(dirs)?;
        journal.write(Phase::RollingBack)?;
    }
    let old_files = move_back(dirs, journal)?;
    Ok(Recovered {
        tag: journal.tag.clone(),
        phase,
        outcome: Outcome::RolledBack,
        old_files,
        new_files_removed,
    })
}

/// Finishes every placement a dead session left in `dirs` (the target's data
/// directories, open, the database's first), then removes what dead
/// sessions staged. `completed` says whether the target's record says the
/// last registered restore completed with S_OK: a restore registers before
/// it places and completes after, so a journal found then belongs to that
/// restore. Only for a caller that holds the target's restore lock.
pub fn recover(dirs: &[DataDir], completed: bool) -> io::Result<Recovery> {
    let mut recovery = Recovery::default();
    for dir in dirs {
        for name in names_where(dir, |n| {
            n.starts_with(JOURNAL_PREFIX) && !n.contains(STAGING_MARK)
        })? {
            let tag = name[JOURNAL_PREFIX.len()..].to_string();
            let journal = Journal { dir, tag };
            let Some(phase) = journal.read()? else {
                if dir.kind(&journal.name())? == Some(EntryKind::Link) {
                    // Planted: removed, never followed.
                    dir.remove(&journal.name())?;
                    recovery.staging_removed += 1;
                } else {
                    tracing::error!(
                        "{}: not a placement journal; left alone",
                        journal.path().display()
                    );
                }
                continue;
            };
            let recovered = if completed && phase == Phase::Placing {
                let old_files = discard_aside(dirs, &journal)?;
                Recovered {
                    tag: journal.tag.clone(),
                    phase,
                    outcome: Outcome::KeptNew,
                    old_files,
                    new_files_removed: 0,
                }
            } else {
                roll_back(dirs, &journal, phase)?
            };
            tracing::warn!(?recovered, "finished a placement a dead session left");
            recovery.placements.push(recovered);
        }
    }
    for dir in dirs {
        recovery.staging_removed += remove_orphans_in(dir)?;
    }
    Ok(recovery)
}

/// What a restore left in `dirs` that is not the target's own files: staged
/// files, old files moved aside, placement journals. Reads only.
pub fn leftovers(dirs: &[DataDir]) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for dir in dirs {
        found.extend(
            names_where(dir, |n| {
                n.contains(STAGING_MARK) || n.contains(ASIDE_MARK) || n.starts_with(JOURNAL_PREFIX)
            })?
            .iter()
            .map(|n| dir.join(n)),
        );
    }
    Ok(found)
}

impl Plan {
    fn journal(&self) -> Journal<'_> {
        Journal {
            dir: &self.dirs[0],
            tag: self.tag.clone(),
        }
    }

    /// After register: moves the old restore artifacts aside, renames the
    /// staged files into place and fsyncs the directories, under the
    /// placement's journal. If this fails, the new files go back to their
    /// staging names and the old ones to theirs, so the target keeps its old
    /// files. After the restore completed, [`discard_set_aside`] removes the
    /// old files; if it does not complete, [`undo`] or the target's next
    /// [`recover`] puts them back.
    ///
    /// [`discard_set_aside`]: Plan::discard_set_aside
    /// [`undo`]: Plan::undo
    pub fn place(&self) -> Result<(), Error> {
        let journal = self.journal();
        journal
            .write(Phase::SetAside)
            .map_err(|e| Error::io(&format!("writing {}", journal.path().display()), e))?;
        let mut placed = Vec::new();
        let result = self.swap_in(&journal, &mut placed);
        if result.is_err() {
            self.put_back(&journal, &placed);
        }
        result
    }

    /// Moves the old files aside, then the staged ones in.
    fn swap_in<'a>(
        &'a self,
        journal: &Journal,
        placed: &mut Vec<&'a crate::staging::Destination>,
    ) -> Result<(), Error> {
        for dir in &self.dirs {
            let artifacts = artifacts_in(dir)
                .map_err(|e| Error::io(&format!("listing {}", dir.path().display()), e))?;
            for original in artifacts {
                dir.rename(&original, &aside_name(&original, &self.tag))
                    .map_err(|e| {
                        Error::io(
                            &format!("moving {} aside", dir.join(&original).display()),
                            e,
                        )
                    })?;
                failpoint::hit("set-aside");
            }
        }
        // Every old file is aside, durably, before the journal says so.
        sync_all(&self.dirs).map_err(|e| Error::io("syncing the target's directories", e))?;
        journal
            .write(Phase::Placing)
            .map_err(|e| Error::io(&format!("writing {}", journal.path().display()), e))?;
        for destination in &self.destinations {
            self.dirs[destination.dir]
                .rename(&self.staged_name(destination), &destination.name)
                .map_err(|e| {
                    Error::io(
                        &format!("putting {} in place", self.path_of(destination).display()),
                        e,
                    )
                })?;
            failpoint::hit("placed");
            placed.push(destination);
        }
        sync_all(&self.dirs).map_err(|e| Error::io("syncing the target's directories", e))
    }

    /// Undoes a failed `swap_in` in this process: the new files back to
    /// their staging names (the session may retry, or its end removes them),
    /// then the old ones back. If this fails too, the journal stays and the
    /// target's next [`recover`] finishes it.
    fn put_back(&self, journal: &Journal, placed: &[&crate::staging::Destination]) {
        let result = (|| {
            for destination in placed.iter().rev() {
                self.dirs[destination.dir]
                    .rename(&destination.name, &self.staged_name(destination))?;
            }
            sync_all(&self.dirs)?;
            journal.write(Phase::RollingBack)?;
            move_back(&self.dirs, journal)
        })();
        if let Err(e) = result {
            tracing::error!(
                "putting the old files back failed ({e}); {} stays for the target's next open",
                journal.path().display()
            );
        }
    }

    /// After the restore completed (register-complete with S_OK): removes
    /// the old files that placing moved aside, then the journal.
    pub fn discard_set_aside(&self) {
        if let Err(e) = discard_aside(&self.dirs, &self.journal()) {
            tracing::warn!("removing the old files: {e}; the target's next open finishes it");
        }
    }

    /// After a placement whose restore will not complete (the session
    /// failed or ended before register-complete with S_OK): removes the new
    /// files and puts the old ones back.
    pub fn undo(&self) -> Result<Recovered, Error> {
        let journal = self.journal();
        let phase = journal
            .read()
            .map_err(|e| Error::io(&format!("reading {}", journal.path().display()), e))?
            .unwrap_or(Phase::RollingBack);
        roll_back(&self.dirs, &journal, phase)
            .map_err(|e| Error::io("putting the old files back", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::FileKind;
    use std::fs;
    use std::path::Path;

    /// A target directory with old files and staged new ones for `tag`.
    fn scene(tag: &str) -> (tempfile::TempDir, Plan) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (name, bytes) in [
            ("ntds.dit", "old db"),
            ("edb.chk", "old chk"),
            ("edb00001.log", "old 1"),
        ] {
            fs::write(d.join(name), bytes).unwrap();
        }
        let mut plan = Plan::open(&d.join("ntds.dit"), d, d, tag).unwrap();
        let destinations = vec![
            plan.destination(FileKind::NtdsDatabase, "x"),
            plan.destination(FileKind::Checkpoint, "edb.chk"),
            plan.destination(FileKind::Log, "edb00002.log"),
        ];
        for dest in &destinations {
            fs::write(
                d.join(staging_name(&dest.name, tag)),
                format!("new {}", dest.name),
            )
            .unwrap();
        }
        plan.set_destinations(destinations);
        (dir, plan)
    }

    fn listing(dir: &Path) -> Vec<(String, String)> {
        let mut all: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().into_string().unwrap();
                (name, fs::read_to_string(e.path()).unwrap())
            })
            .collect();
        all.sort();
        all
    }

    fn old_state() -> Vec<(String, String)> {
        [
            ("edb.chk", "old chk"),
            ("edb00001.log", "old 1"),
            ("ntds.dit", "old db"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .to_vec()
    }

    fn new_state() -> Vec<(String, String)> {
        [
            ("edb.chk", "new edb.chk"),
            ("edb00002.log", "new edb00002.log"),
            ("ntds.dit", "new ntds.dit"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .to_vec()
    }

    #[test]
    fn a_completed_placement_keeps_only_the_new_files() {
        let (dir, plan) = scene("a1");
        plan.place().unwrap();
        plan.discard_set_aside();
        assert_eq!(listing(dir.path()), new_state());
    }

    #[test]
    fn undo_after_placing_gives_back_exactly_the_old_files() {
        let (dir, plan) = scene("a1");
        plan.place().unwrap();
        let undone = plan.undo().unwrap();
        assert_eq!(undone.outcome, Outcome::RolledBack);
        assert_eq!(undone.new_files_removed, 3);
        assert_eq!(listing(dir.path()), old_state());
    }

    #[test]
    fn recovery_of_an_uncompleted_placement_rolls_back_and_of_a_completed_one_keeps_new() {
        for (completed, expected) in [(false, old_state()), (true, new_state())] {
            let (dir, plan) = scene("b2");
            plan.place().unwrap();
            let recovery = recover(&plan.dirs, completed).unwrap();
            assert_eq!(recovery.placements.len(), 1, "{recovery:?}");
            assert_eq!(listing(dir.path()), expected, "completed: {completed}");
            assert!(recover(&plan.dirs, completed).unwrap().is_empty());
        }
    }

    #[test]
    fn recovery_in_each_phase_never_deletes_an_old_file() {
        // Half-way states a kill leaves, built by hand: set-aside with one
        // file moved, placing with one new file in, rolling-back with one
        // old file back.
        for phase in [Phase::SetAside, Phase::Placing, Phase::RollingBack] {
            let (dir, plan) = scene("c3");
            let d = dir.path();
            let journal = plan.journal();
            journal.write(Phase::SetAside).unwrap();
            fs::rename(d.join("ntds.dit"), d.join("ntds.dit.dsrestore-old-c3")).unwrap();
            if phase != Phase::SetAside {
                fs::rename(d.join("edb.chk"), d.join("edb.chk.dsrestore-old-c3")).unwrap();
                fs::rename(
                    d.join("edb00001.log"),
                    d.join("edb00001.log.dsrestore-old-c3"),
                )
                .unwrap();
                journal.write(Phase::Placing).unwrap();
                fs::rename(d.join(staging_name("ntds.dit", "c3")), d.join("ntds.dit")).unwrap();
            }
            if phase == Phase::RollingBack {
                fs::remove_file(d.join("ntds.dit")).unwrap();
                journal.write(Phase::RollingBack).unwrap();
                fs::rename(d.join("edb.chk.dsrestore-old-c3"), d.join("edb.chk")).unwrap();
            }
            let recovery = recover(&plan.dirs, false).unwrap();
            assert_eq!(recovery.placements[0].phase, phase);
            assert_eq!(listing(d), old_state(), "{phase:?}");
        }
    }

    #[test]
    fn leftovers_lists_staged_set_aside_and_journal_files() {
        let (dir, plan) = scene("d4");
        assert_eq!(leftovers(&plan.dirs).unwrap().len(), 3);
        plan.place().unwrap();
        // Three old files aside and the journal.
        assert_eq!(leftovers(&plan.dirs).unwrap().len(), 4);
        plan.discard_set_aside();
        assert!(
            leftovers(&plan.dirs).unwrap().is_empty(),
            "{:?}",
            listing(dir.path())
        );
    }
}
