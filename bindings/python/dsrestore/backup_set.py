"""Restoring a directory backup set (docs/backup-set.md) that `dsrestore
backup --out DIR` wrote, through an agent: the Python form of the Rust
workflow's upload path. Each file is sent with put-file/put-data/
put-file-end and checked by the target against the manifest's size and
SHA-256 (and here, as it is read); nothing is registered until every file
arrived whole; then register, place-files, register-complete, end. A
failure before register leaves the target as it was."""

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Union

from . import codes
from .errors import DsError

CHUNK = 256 << 10
KINDS = {"ntds-database": "ntds-database", "log": "log", "checkpoint": "checkpoint-dir"}


def _invalid(message: str) -> DsError:
    return DsError(codes.HR_INVALID_BACKUP, message)


def _open_regular(path: Path) -> int:
    """A descriptor of ``path`` if it is a regular file: never through a
    link, never waiting on a FIFO."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def read_manifest(set_dir: Union[str, Path]) -> dict:
    """The set's manifest, its structure checked. An encrypted set (age) is
    refused: this package carries no age."""
    path = Path(set_dir) / "manifest.json"
    try:
        fd = _open_regular(path)
    except FileNotFoundError:
        raise _invalid(f"{set_dir} has no manifest.json: the backup set is incomplete") from None
    except OSError as e:
        raise DsError(codes.ERROR_ACCESS_DENIED, f"refusing {path}: {e}") from None
    with os.fdopen(fd, "rb") as f:
        raw = f.read(2 << 20)
    if raw.startswith(b"age-encryption.org/v1") or raw.startswith(b"-----BEGIN AGE"):
        raise DsError(codes.ERROR_INVALID_PARAMETER,
                      f"the set in {set_dir} is encrypted (age): restore it with the dsrestore CLI")
    try:
        manifest = json.loads(raw)
    except ValueError as e:
        raise _invalid(f"{path}: {e}") from None
    if manifest.get("format") != 1:
        raise _invalid(f"{path}: format {manifest.get('format')!r} is not 1")
    kinds = [f.get("kind") for f in manifest.get("files", [])]
    if kinds.count("ntds-database") != 1 or kinds.count("checkpoint") != 1 or "log" not in kinds:
        raise _invalid(f"{path}: a set has one database, one checkpoint and at least one log")
    for f in manifest["files"]:
        name = f.get("name", "")
        if f.get("kind") not in KINDS or not name or "/" in name or name in (".", ".."):
            raise _invalid(f"{path}: {name!r} is not a plain file name of a known kind")
    return manifest


def restore_set(runtime, set_dir: Union[str, Path], server: str) -> dict:
    """Restores the set in ``set_dir`` to ``server`` (an agent, offline);
    returns ``{"files", "bytes", "gen-low", "gen-high"}``."""
    set_dir = Path(set_dir)
    manifest = read_manifest(set_dir)
    token = bytes.fromhex(manifest["expiry-token"])
    files = manifest["files"]
    gens = [f["generation"] for f in files if f.get("generation") is not None]
    with runtime.prepare(server, token) as ctx:
        where = {loc["kind"]: loc["path"] for loc in ctx.database_locations()}
        for f in files:
            ctx.put_file(KINDS[f["kind"]], f["name"], f["size"])
            digest, sent = hashlib.sha256(), 0
            try:
                fd = _open_regular(set_dir / "files" / f["name"])
            except OSError as e:
                raise _invalid(f"{set_dir / 'files' / f['name']}: {e}") from None
            with os.fdopen(fd, "rb") as data:
                while sent <= f["size"]:
                    chunk = data.read(CHUNK)
                    if not chunk:
                        break
                    digest.update(chunk)
                    sent += len(chunk)
                    ctx.put_data(chunk)
            if sent != f["size"] or digest.hexdigest() != f["sha256"]:
                raise _invalid(f"{set_dir / 'files' / f['name']}: not the file the manifest lists "
                               f"({sent} bytes, SHA-256 {digest.hexdigest()})")
            ctx.put_file_end(f["sha256"])
        database = next(f for f in files if f["kind"] == "ntds-database")
        ctx.register({
            "checkpoint-file-path": where["checkpoint-dir"],
            "log-path": where["log-dir"],
            "restore-map": [{"database-name": database["original-path"],
                             "new-database-name": where["ntds-database"]}],
            "backup-log-path": where["log-dir"],
            "gen-low": min(gens),
            "gen-high": max(gens),
        })
        ctx.place_files()
        ctx.register_complete(codes.S_OK)
    return {"files": len(files), "bytes": sum(f["size"] for f in files),
            "gen-low": min(gens), "gen-high": max(gens)}
