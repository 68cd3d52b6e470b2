"""Throw-away certificates for TLS tests, made with openssl: a CA and its leaves, or a self-signed one."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(pki: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=pki, check=True, capture_output=True, timeout=30)


def make_pki(pki: Path, hosts: dict[str, str]) -> Path:
    """ca.crt/ca.key plus <name>.crt/<name>.key signed by it, one per name with its subjectAltName."""
    ca = ("-keyout", "ca.key", "-subj", "/CN=fleet-ca", "-days", "2", "-out", "ca.crt")
    _openssl(pki, "req", "-x509", "-newkey", "rsa:2048", "-nodes", *ca)
    for name, san in hosts.items():
        key, csr = f"{name}.key", f"{name}.csr"
        _openssl(
            pki, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", f"/CN={name}", "-out", csr
        )
        (pki / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        sign = ("-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2")
        _openssl(pki, "x509", "-req", "-in", csr, *sign, "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    return pki


def make_self_signed(directory: Path, san: str = "IP:127.0.0.1") -> Path:
    """cert.pem and key.pem in `directory`: a self-signed certificate for `san` (its own CA)."""
    subject = ("-subj", "/CN=localhost", "-addext", f"subjectAltName={san}")
    files = ("-keyout", "key.pem", "-out", "cert.pem")
    _openssl(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", *subject, *files)
    return directory
