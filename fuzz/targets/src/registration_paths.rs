//! Registration and path validation: every path the target accepts in a
//! registration (`Layout::check_inside`) must resolve, through whatever
//! links are on the way, to a place inside the target's data directories,
//! never into its state directory or out of the target.
//!
//! The target under test is made once per process, with links planted in
//! its data directories: to the state directory, out of the target (by an
//! absolute and a relative link), a dangling one, a loop, and a harmless one
//! between two data directories. Paths are built from pieces that reach
//! those quickly (the root, each directory, each link, `.`, `..`, empty
//! components, any name) or taken as they come.
//!
//! The resolution used to check the property is written here, component by
//! component with `read_link`, rather than borrowed from the code under test.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use dsrestore_target::Layout;

struct Fixture {
    layout: Layout,
    /// The canonical data directories and state directory.
    data_dirs: Vec<PathBuf>,
    state_dir: PathBuf,
    _dir: tempfile::TempDir,
}

/// The planted links, by name in the database directory (`ntds/`) or the log
/// directory (`logs/`), and where each points.
const LINKS: &[(&str, &str)] = &[
    ("ntds/to-state", "../state"),
    ("logs/to-state-abs", "@root/state"),
    ("ntds/out", "@outside"),
    ("logs/out-relative", "../../outside"),
    ("ntds/dangling", "@outside/not-there"),
    ("ntds/dangling-relative", "../../outside/not-there"),
    ("ntds/loop", "loop"),
    ("logs/to-ntds", "../ntds"),
    ("ntds/to-root", ".."),
];

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let base = dir.path().canonicalize().expect("canonical");
        let root = base.join("target");
        let outside = base.join("outside");
        let layout = Layout::new(root.clone());
        for d in [
            layout.database_dir(),
            layout.log_dir(),
            layout.state_dir(),
            outside.clone(),
            layout.database_dir().join("sub"),
        ] {
            std::fs::create_dir_all(d).expect("a directory");
        }
        std::fs::write(layout.database_file(), b"db").expect("a file");
        for (name, to) in LINKS {
            let to = to
                .replace("@root", &root.to_string_lossy())
                .replace("@outside", &outside.to_string_lossy());
            std::os::unix::fs::symlink(to, root.join(name)).expect("a link");
        }
        Fixture {
            data_dirs: layout.data_dirs(),
            state_dir: layout.state_dir(),
            layout,
            _dir: dir,
        }
    })
}

/// Where `path` leads: each existing link on the way followed (at most 40,
/// as the kernel does), `..` taken after that, names that do not exist kept
/// as they are. None when the links do not end.
fn resolve(path: &Path, links_left: &mut u32) -> Option<PathBuf> {
    let mut here = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => here = PathBuf::from("/"),
            Component::CurDir => {}
            Component::ParentDir => {
                here.pop();
            }
            Component::Normal(name) => {
                let next = here.join(name);
                let is_link =
                    std::fs::symlink_metadata(&next).is_ok_and(|m| m.file_type().is_symlink());
                if !is_link {
                    here = next;
                    continue;
                }
                *links_left = links_left.checked_sub(1)?;
                let to = std::fs::read_link(&next).ok()?;
                here = resolve(&here.join(to), links_left)?;
            }
        }
    }
    Some(here)
}

/// One piece of a path the fuzzer builds.
#[derive(Arbitrary, Debug)]
enum Piece {
    Root,
    DatabaseDir,
    LogDir,
    StateDir,
    Link(u8),
    Dot,
    DotDot,
    Empty,
    DatabaseFile,
    Name(String),
}

fn build(pieces: &[Piece]) -> String {
    let f = fixture();
    let root = f.layout.root().to_string_lossy().into_owned();
    let mut parts: Vec<String> = Vec::new();
    for piece in pieces {
        let part = match piece {
            Piece::Root => root.clone(),
            Piece::DatabaseDir => format!("{root}/ntds"),
            Piece::LogDir => format!("{root}/logs"),
            Piece::StateDir => format!("{root}/state"),
            Piece::Link(i) => LINKS[*i as usize % LINKS.len()]
                .0
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string(),
            Piece::Dot => ".".into(),
            Piece::DotDot => "..".into(),
            Piece::Empty => String::new(),
            Piece::DatabaseFile => "ntds.dit".into(),
            Piece::Name(n) => n.clone(),
        };
        parts.push(part);
    }
    let joined = parts.join("/");
    // Absolute pieces (the root, a directory) restart the path, as the
    // fuzzer would write them.
    match parts.iter().rposition(|p| p.starts_with('/')) {
        Some(last) => parts[last..].join("/"),
        None => joined,
    }
}

/// Checks the property for one path.
pub fn check_path(path: &str) {
    let f = fixture();
    let Ok(accepted) = f.layout.check_inside("registration.log-path", path) else {
        return;
    };
    let mut links_left = 40;
    let Some(resolved) = resolve(&accepted, &mut links_left) else {
        panic!("{path:?} was accepted, but its links never end");
    };
    assert!(
        f.data_dirs.iter().any(|d| resolved.starts_with(d)),
        "{path:?} was accepted, but leads to {} (outside the data directories)",
        resolved.display()
    );
    assert!(
        !resolved.starts_with(&f.state_dir),
        "{path:?} was accepted, but leads into the state directory"
    );
}

/// The fuzz target's body: the first byte says whether the rest is pieces
/// or a path as it comes.
pub fn registration_paths(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode & 1 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            check_path(text);
        }
        return;
    }
    let mut u = Unstructured::new(rest);
    if let Ok(pieces) = Vec::<Piece>::arbitrary(&mut u) {
        check_path(&build(&pieces));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> String {
        fixture().layout.root().to_string_lossy().into_owned()
    }

    #[test]
    fn the_resolver_follows_each_planted_link() {
        let f = fixture();
        let mut n = 40;
        let to_state = resolve(&f.layout.database_dir().join("to-state/x"), &mut n);
        assert_eq!(to_state, Some(f.state_dir.join("x")));
        let out = resolve(&f.layout.log_dir().join("out-relative"), &mut n).unwrap();
        assert!(out.ends_with("outside"), "{out:?}");
        assert!(!out.starts_with(f.layout.root()));
        assert_eq!(resolve(&f.layout.database_dir().join("loop"), &mut n), None);
    }

    #[test]
    fn paths_through_every_planted_link_hold_the_property() {
        for (name, _) in LINKS {
            for tail in ["", "/x", "/x/y", "/.."] {
                check_path(&format!("{}/{name}{tail}", root()));
            }
        }
        // Inside, and accepted: the property is not vacuous.
        let inside = format!("{}/logs/to-ntds/sub", root());
        assert!(fixture().layout.check_inside("t", &inside).is_ok());
        check_path(&inside);
    }
}
