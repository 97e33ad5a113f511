"""Run only against the installed wheel (bindings/python/check-wheel.sh,
which names this file; pytest does not collect it otherwise): the package
imported is the installed one, not the checkout's, and it runs the guest it
carries."""

import os
from pathlib import Path

import dsrestore


def test_the_installed_package_is_not_the_checkout_and_carries_its_guest():
    package = Path(dsrestore.__file__).resolve().parent
    checkout = Path(os.environ["DSRESTORE_CHECKOUT"]).resolve()
    assert checkout not in package.parents, package
    assert "DSRESTORE_WASM" not in os.environ
    guest = dsrestore.default_component_path()
    assert guest == package / "dsrestore.wasm"
    built = checkout / "target" / "wasm32-wasip2" / "release" / "dsrestore.wasm"
    assert guest.read_bytes() == built.read_bytes()
