#!/bin/bash
# A 256 MiB restore through an agent on 127.0.0.1, TLS against --insecure-plaintext,
# alternating, four rounds (docs/performance.md). Needs the release build.
set -e
D=${DSRESTORE:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/dsrestore}
W=$(mktemp -d /tmp/tlsb.XXXX); cd $W
export DSRESTORE_PASSWORD=pw
$D target init t --online --database-mib 252 >/dev/null
$D agent add-user --target t 'CORP\u' >/dev/null
$D backup --server local:$W/t --out set >/dev/null
$D target offline t >/dev/null
for round in 1 2 3 4; do
  for mode in tls plain; do
    extra=""; [ $mode = plain ] && extra="--insecure-plaintext"
    $D agent --target t --listen 127.0.0.1:0 $extra > a.out 2>/dev/null & pid=$!
    for i in $(seq 50); do [ -s a.out ] && break; sleep 0.1; done
    S=$(awk '{print $3}' a.out)
    out=$($D restore --from set --server "$S" --user 'CORP\u' 2>&1 | tail -1)
    cpu=$(awk '{print ($14+$15)/100}' /proc/$pid/stat)
    kill $pid; wait $pid 2>/dev/null || true
    echo "$mode: $out | agent cpu ${cpu}s"
  done
done
rm -rf $W
