#!/usr/bin/env python3
"""How long a CLI command that starts a sandbox takes next to one that does
not: `dsrestore is-online --server local:DIR` against `dsrestore target
status DIR`, in alternating pairs, whole-process wall time (issue 12's
goal: within 3x). Usage: cli-start.py [--dsrestore PATH] [--pairs N]"""

import argparse
import os
import statistics
import subprocess
import tempfile
import time


def timed(cmd):
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsrestore", default="target/release/dsrestore")
    ap.add_argument("--pairs", type=int, default=30)
    args = ap.parse_args()
    exe = os.path.abspath(args.dsrestore)
    with tempfile.TemporaryDirectory() as d:
        target = os.path.join(d, "dc1")
        subprocess.run([exe, "target", "init", target], check=True, stdout=subprocess.DEVNULL)
        online = [exe, "is-online", "--server", f"local:{target}"]
        status = [exe, "target", "status", target]
        for _ in range(3):
            timed(online), timed(status)
        pairs = [(timed(online), timed(status)) for _ in range(args.pairs)]
    a = sorted(p[0] for p in pairs)
    b = sorted(p[1] for p in pairs)
    ms = lambda xs: f"min {xs[0] * 1e3:.1f} ms, median {statistics.median(xs) * 1e3:.1f} ms, max {xs[-1] * 1e3:.1f} ms"
    print(f"is-online --server local:  {ms(a)}")
    print(f"target status (no sandbox): {ms(b)}")
    print(f"ratio of medians: {statistics.median(a) / statistics.median(b):.2f}x ({args.pairs} alternating pairs)")


if __name__ == "__main__":
    main()
