"""Builds the wheel with the guest component inside: dsrestore/dsrestore.wasm,
taken from $DSRESTORE_WASM or from this checkout's release build
(cargo build --release --target wasm32-wasip2 -p dsrestore). Everything else
is in pyproject.toml."""

import os
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
GUEST = Path(
    os.environ.get("DSRESTORE_WASM")
    or HERE.parents[1] / "target" / "wasm32-wasip2" / "release" / "dsrestore.wasm"
)


class BuildWithGuest(build_py):
    """build_py, then the guest copied in as package data."""

    def run(self):
        super().run()
        if not GUEST.is_file():
            raise SystemExit(
                f"{GUEST} is missing: build the guest first "
                "(cargo build --release --target wasm32-wasip2 -p dsrestore) or set DSRESTORE_WASM"
            )
        out = Path(self.build_lib) / "dsrestore" / "dsrestore.wasm"
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(GUEST, out)


setup(cmdclass={"build_py": BuildWithGuest})
