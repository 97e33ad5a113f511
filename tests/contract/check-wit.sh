#!/usr/bin/env bash
# Checks that the release guest component (world `client`: restore-client and
# backup-client) carries exactly the contract in wit/:
# the `dsrestore:backup` package decoded from the guest must equal the one
# decoded from a dummy component built from wit/ alone (both by wasm-tools, so
# ordering and formatting are the same; doc comments are not compared).
# Usage: tests/contract/check-wit.sh [wasm-tools]
set -euo pipefail
cd "$(dirname "$0")/../.."
wasm_tools=${1:-wasm-tools}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --target wasm32-wasip2 -p dsrestore
guest=target/wasm32-wasip2/release/dsrestore.wasm

# Each world of the package stands on its own.
for world in restore backup client; do
    "$wasm_tools" component embed --dummy wit --world "$world" -o "$work/$world.wasm"
done
"$wasm_tools" component embed --dummy wit --world client -o "$work/dummy.wasm"
"$wasm_tools" component new "$work/dummy.wasm" -o "$work/dummy.component.wasm"
package() { "$wasm_tools" component wit "$1" | awk '/^package dsrestore:backup@0.1.0 \{/,/^}/' | grep -v '^\s*///'; }
package "$work/dummy.component.wasm" > "$work/contract.wit"
package "$guest" > "$work/guest.wit"
if ! diff -u "$work/contract.wit" "$work/guest.wit"; then
    echo "check-wit: the guest's dsrestore:backup package differs from wit/" >&2
    exit 1
fi

# The guest's imports: binding-transport, its types, and stdio WASI only.
imports=$("$wasm_tools" component wit "$guest" | awk '/^world root \{/,/^}/' | sed -n 's/^ *import \(.*\);$/\1/p')
bad=$(echo "$imports" | grep -v -E '^(dsrestore:backup/(types|binding-transport)|wasi:io/|wasi:cli/(environment|exit|stdin|stdout|stderr|terminal-))' || true)
if [ -n "$bad" ]; then
    echo "check-wit: unexpected imports:" >&2
    echo "$bad" >&2
    exit 1
fi
echo "check-wit: the release guest ($(wc -c < "$guest") bytes) matches wit/; imports: $(echo "$imports" | tr '\n' ' ')"
