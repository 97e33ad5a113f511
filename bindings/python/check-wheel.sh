#!/usr/bin/env bash
# Builds the Python wheel (`pip wheel`, the release guest inside), installs it
# into a fresh virtual environment outside the checkout, and runs a copy of
# the tests from there: the installed package and its own guest
# (installed_check.py), the shared scenario table, and TCP sessions and a
# whole restore through a real agent. Needs the release guests and
# target/debug/dsrestore built (.ci/run builds them first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "pytest>=8"
"$work/venv/bin/pip" wheel --quiet --disable-pip-version-check --no-deps \
    -w "$work/wheels" "$root/bindings/python"
wheel=$(ls "$work"/wheels/dsrestore-*-py3-none-any.whl)
"$work/venv/bin/python" -c 'import sys, zipfile
sys.exit("dsrestore/dsrestore.wasm" not in zipfile.ZipFile(sys.argv[1]).namelist())' "$wheel" || {
    echo "$wheel does not carry dsrestore.wasm" >&2
    exit 1
}
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel"
echo "installed $(basename "$wheel") into $work/venv"

cp -r "$root/bindings/python/tests" "$work/tests"
cd "$work"
env -u DSRESTORE_WASM -u PYTHONPATH DSRESTORE_CHECKOUT="$root" \
    "$work/venv/bin/pytest" -q -p no:cacheprovider \
    tests/installed_check.py tests/test_scenarios.py tests/test_tcp_agent.py
