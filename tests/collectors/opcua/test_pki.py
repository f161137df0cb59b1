"""Trust store rules: pinned certificates, CA-issued certificates, and bad input to trust-cert."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from collectors.opcua.pki import (
    ensure_own_certificate,
    is_trusted,
    load_certificate,
    make_self_signed,
    reject,
    trust_certificate,
)


def _ca_and_leaf() -> tuple[x509.Certificate, x509.Certificate]:
    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Plant CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PLC")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return ca, leaf


def test_own_certificate_is_made_once_with_uri_and_key(tmp_path: Path) -> None:
    first = ensure_own_certificate(tmp_path)
    der = first.cert.read_bytes()
    again = ensure_own_certificate(tmp_path)
    assert again.cert.read_bytes() == der
    san = load_certificate(first.cert).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert first.application_uri in san.get_values_for_type(x509.UniformResourceIdentifier)
    assert oct(first.key.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "trusted").is_dir() and (tmp_path / "rejected").is_dir()


def test_pinned_pem_certificate_is_trusted_and_others_are_not(tmp_path: Path) -> None:
    make_self_signed(tmp_path / "a.der", tmp_path / "a.pem", application_uri="urn:a", common_name="a")
    make_self_signed(tmp_path / "b.der", tmp_path / "b.pem", application_uri="urn:b", common_name="b")
    a = load_certificate(tmp_path / "a.der")
    pem = tmp_path / "a.crt"
    pem.write_bytes(a.public_bytes(serialization.Encoding.PEM))
    trust_certificate(tmp_path / "pki", pem)
    assert is_trusted(tmp_path / "pki", a)
    assert not is_trusted(tmp_path / "pki", load_certificate(tmp_path / "b.der"))


def test_a_certificate_issued_by_a_trusted_ca_is_trusted(tmp_path: Path) -> None:
    ca, leaf = _ca_and_leaf()
    (tmp_path / "ca.der").write_bytes(ca.public_bytes(serialization.Encoding.DER))
    assert not is_trusted(tmp_path, leaf)
    trust_certificate(tmp_path, tmp_path / "ca.der")
    assert is_trusted(tmp_path, leaf)


def test_rejected_certificates_are_kept_for_inspection(tmp_path: Path) -> None:
    _, leaf = _ca_and_leaf()
    path = reject(tmp_path, leaf)
    assert path.parent.name == "rejected" and path.name.startswith("PLC_") and load_certificate(path) == leaf


def test_trusting_something_that_is_not_a_certificate_says_so(tmp_path: Path) -> None:
    junk = tmp_path / "junk.der"
    junk.write_bytes(b"not a certificate")
    with pytest.raises(ValueError, match=r"not a DER or PEM X\.509 certificate"):
        trust_certificate(tmp_path, junk)
    with pytest.raises(FileNotFoundError):
        trust_certificate(tmp_path, tmp_path / "missing.der")


def test_the_gateways_own_key_is_refused_when_others_may_read_it(tmp_path: Path) -> None:
    from common.secrets import SecretError

    own = ensure_own_certificate(tmp_path)
    own.key.chmod(0o640)
    with pytest.raises(SecretError, match=f"OPC UA key .*chmod 600 {own.key}"):
        ensure_own_certificate(tmp_path)
    own.key.chmod(0o600)
    assert ensure_own_certificate(tmp_path).key == own.key
