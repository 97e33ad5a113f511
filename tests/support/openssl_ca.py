"""A throwaway CA for tests, made with the openssl command: what a user's own
CA would issue an agent (`dsrestore agent --cert --key`)."""

import shutil
import subprocess
from pathlib import Path


def issue(directory: Path, name: str):
    """A CA and a certificate it issued for 127.0.0.1 (ECDSA P-256), as PEM
    files in directory/name; returns (ca.pem, agent.pem, agent.key)."""
    if not shutil.which("openssl"):
        raise RuntimeError("the CA tests need the openssl command (Debian: openssl)")
    d = Path(directory) / name
    d.mkdir()

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", f"/CN={name} CA")
    openssl("req", *ec, "-keyout", "agent.key", "-out", "agent.csr", "-subj", "/CN=agent")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    openssl("x509", "-req", "-in", "agent.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "agent.pem", "-days", "2", "-extfile", "ext")
    return d / "ca.pem", d / "agent.pem", d / "agent.key"
