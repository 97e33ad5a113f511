#!/usr/bin/env bash
# Packs the npm package (`npm pack`: the transpiled guest inside), installs
# the tarball into an empty directory outside the checkout, and runs a copy
# of the tests from there: the installed package and its guest
# (installed-check.js), the shared scenario table, and TCP sessions through
# a real agent. Needs `npm ci` done here, the release guests and
# target/debug/dsrestore built (.ci/run does all three first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$root/bindings/js" && npm pack --silent --pack-destination "$work" >/dev/null)
tarball=$(ls "$work"/dsrestore-*.tgz)
tar -tzf "$tarball" >"$work/contents"
grep -q '^package/generated/dsrestore/component.js$' "$work/contents" || {
    echo "$tarball does not carry the transpiled guest" >&2
    exit 1
}
mkdir "$work/app" "$work/app/test"
cd "$work/app"
echo '{ "name": "app", "private": true, "type": "module" }' >package.json
npm install --no-audit --no-fund --loglevel=error "$tarball"
echo "installed $(basename "$tarball") into $work/app"
cp "$root"/bindings/js/test/*.js test/
DSRESTORE_CHECKOUT="$root" node --test \
    test/installed-check.js test/scenarios.test.js test/tcp-agent.test.js
