#!/bin/bash
# Restore and backup of the same 256 MiB set to `local:` and through a TLS
# agent on 127.0.0.1, alternating, ROUNDS rounds (default 5); prints each
# time the command reports ("in X s", which leaves out the process start),
# then min/median/max per case and the ratio of medians (local / agent:
# 1.0 is as fast as local). docs/performance.md quotes it. Needs the release
# build (cargo build --release).
set -e
D=${DSRESTORE:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/dsrestore}
ROUNDS=${ROUNDS:-5}
W=$(mktemp -d /tmp/agent-vs-local.XXXX)
trap 'kill $pid 2>/dev/null || true; rm -rf "$W"' EXIT
cd "$W"
export DSRESTORE_PASSWORD=pw
$D target init t --online --database-mib 252 >/dev/null
$D agent add-user --target t 'CORP\u' >/dev/null
$D backup --server "local:$W/t" --out set >/dev/null
$D agent --target t --listen 127.0.0.1:0 > agent.out 2>/dev/null & pid=$!
for _ in $(seq 50); do [ -s agent.out ] && break; sleep 0.1; done
S=$(awk '{print $3}' agent.out)
took() { "$@" 2>&1 | tail -1 | sed -n 's/.* in \([0-9.]*\) s$/\1/p'; }
: > times
uptime
for round in $(seq "$ROUNDS"); do
  $D target offline t >/dev/null
  echo "restore-local $(took $D restore --from set --server "local:$W/t")" >> times
  echo "restore-agent $(took $D restore --from set --server "$S" --user 'CORP\u')" >> times
  $D target online t >/dev/null
  rm -rf b1 b2
  echo "backup-local $(took $D backup --server "local:$W/t" --out b1)" >> times
  echo "backup-agent $(took $D backup --server "$S" --user 'CORP\u' --out b2)" >> times
done
uptime
python3 - times <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    case, t = line.split()
    runs.setdefault(case, []).append(float(t))
med = {c: statistics.median(v) for c, v in runs.items()}
for c, v in runs.items():
    print(f"{c:14} min {min(v):.2f} median {med[c]:.2f} max {max(v):.2f} s  ({', '.join(f'{x:.2f}' for x in v)})")
for op in ("restore", "backup"):
    print(f"{op}: agent at {med[op + '-local'] / med[op + '-agent']:.2f}x of local (goal >= 0.8x)")
PY
