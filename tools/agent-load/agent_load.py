#!/usr/bin/env python3
"""Load on a dsrestore agent before authentication: its memory and a
legitimate client's latency while N clients connect at once.

Starts `dsrestore agent` on a fresh sample target, then for each N:
- "silent": N connections that never send a byte;
- "guessing": N connections that each complete the TLS handshake (an
  attacker needs no trust for that) and send a wrong password for a user
  name of their own, all at once (every one of them needs an argon2
  verification unless refused first).
The attackers come from 127.0.0.2, the legitimate client from 127.0.0.1.
Meanwhile the legitimate client runs `dsrestore is-online` through the
agent. Printed: the agent's RSS before, its peak (VmHWM), the legitimate
call's wall time, and how the attackers' connections ended.

Usage: agent_load.py [--dsrestore PATH] [--counts 200,1000] [-- extra agent flags]
Stdlib only; Linux (/proc) only.
"""

import argparse
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time


def text(s):
    b = s.encode()
    if len(b) < 24:
        return bytes([0x60 + len(b)]) + b
    return bytes([0x78, len(b)]) + b


def auth_frame(user, domain, password):
    inner = bytes([0xA3]) + text("user") + text(user) + text("domain") + text(domain) + text("password") + text(password)
    body = bytes([0xA1]) + text("authenticate") + inner
    return struct.pack(">I", len(body)) + body


def rss(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024  # MiB
    return 0


def attack(port, n, guessing, results):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def one(i):
        s = socket.socket()
        s.settimeout(60)
        try:
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", port))
            if guessing:
                s = context.wrap_socket(s)
                s.sendall(auth_frame(f"guess{i}", "CORP", "wrong"))
            data = s.recv(4096)
            results.append("answered" if data else "closed")
        except OSError as e:
            results.append(type(e).__name__)
        finally:
            s.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    return threads


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsrestore", default="target/release/dsrestore")
    ap.add_argument("--counts", default="200,1000")
    ap.add_argument("agent_flags", nargs="*")
    args = ap.parse_args()
    exe = os.path.abspath(args.dsrestore)
    env = dict(os.environ, DSRESTORE_PASSWORD="correct horse", DSRESTORE_LOG="error")
    with tempfile.TemporaryDirectory() as d:
        target = os.path.join(d, "dc1")
        subprocess.run([exe, "target", "init", target], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([exe, "agent", "add-user", "--target", target, "CORP\\backup",
                        "--password-env", "DSRESTORE_PASSWORD"], check=True, env=env, stdout=subprocess.DEVNULL)
        print(f"{'case':<10} {'N':>5} {'RSS before':>11} {'peak RSS':>9} {'legit call':>11}  attackers")
        for guessing in (False, True):
            for n in [int(c) for c in args.counts.split(",")]:
                agent = subprocess.Popen([exe, "agent", "--target", target, "--listen", "127.0.0.1:0",
                                          *args.agent_flags], stdout=subprocess.PIPE, env=env, text=True)
                line = agent.stdout.readline()
                server = next(w for w in line.split() if w.startswith("tcp://"))
                port = int(server.split("#")[0].rsplit(":", 1)[1])
                before = rss(agent.pid, "VmRSS")
                results = []
                threads = attack(port, n, guessing, results)
                time.sleep(0.5)
                started = time.monotonic()
                legit = subprocess.run([exe, "is-online", "--server", server,
                                        "--user", "CORP\\backup", "--password-env", "DSRESTORE_PASSWORD"],
                                       env=env, capture_output=True, text=True)
                legit_s = time.monotonic() - started
                for t in threads:
                    t.join()
                peak = rss(agent.pid, "VmHWM")
                agent.terminate()
                agent.wait()
                ok = "ok" if legit.returncode == 0 else f"exit {legit.returncode}"
                ends = {r: results.count(r) for r in sorted(set(results))}
                case = "guessing" if guessing else "silent"
                print(f"{case:<10} {n:>5} {before:>8} MiB {peak:>5} MiB {legit_s:>8.2f} s {ok}  {ends}")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
