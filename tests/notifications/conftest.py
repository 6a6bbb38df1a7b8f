"""TLS certificates for the tests' own servers on 127.0.0.1."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def self_signed(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate naming only `name` (an IP address or a host name), and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    kind = "IP" if name[0].isdigit() else "DNS"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName={kind}:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """For 127.0.0.1, where the SMTP tests connect."""
    return self_signed(tmp_path_factory.mktemp("tls"), "127.0.0.1")


@pytest.fixture(scope="session")
def partner_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """For partner.test, a name the webhook tests resolve to 127.0.0.1."""
    return self_signed(tmp_path_factory.mktemp("tls"), "partner.test")
