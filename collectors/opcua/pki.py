"""The gateway's OPC UA certificates: its own application instance certificate and a trust
store for server certificates, in one directory (default ``var/pki/``)::

    var/pki/own/cert.der  own/key.pem   created on first run, kept across restarts
    var/pki/trusted/      server (or CA) certificates we accept
    var/pki/rejected/     server certificates we met and refused, ready to be trusted

A server certificate is trusted when the same certificate is in ``trusted/`` or it was issued
by a CA certificate there. Anything else is refused with an error naming the certificate
and the command that trusts it; trusting takes effect on the next reconnect.
Uses ``cryptography`` directly, so the client side still imports asyncua in one module only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from common.secrets import check_private

TRUST_COMMAND = "edge-agent trust-cert"


@dataclass(frozen=True, slots=True)
class OwnCertificate:
    cert: Path
    key: Path
    application_uri: str


def thumbprint(der: bytes) -> str:
    """SHA-1 thumbprint, the identifier OPC UA tools (UaExpert, TIA Portal) show."""
    return hashlib.sha1(der).hexdigest()  # an identifier, not a security measure


def first_certificate(der: bytes) -> bytes:
    """The leaf of a DER chain (servers may send leaf + issuers concatenated)."""
    if len(der) > 4 and der[0] == 0x30 and der[1] & 0x80:
        n = der[1] & 0x7F
        end = 2 + n + int.from_bytes(der[2 : 2 + n], "big")
        return der[:end]
    return der


def load_certificate(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    try:
        return x509.load_der_x509_certificate(data)
    except ValueError:
        return x509.load_pem_x509_certificate(data)


def describe(cert: x509.Certificate) -> str:
    return (
        f"{cert.subject.rfc4514_string()} (SHA-1 {thumbprint(cert.public_bytes(serialization.Encoding.DER))})"
    )


def make_self_signed(
    cert_path: Path,
    key_path: Path,
    *,
    application_uri: str,
    common_name: str,
    server: bool = False,
    days: int = 3650,
) -> None:
    """An RSA-2048 application instance certificate as OPC UA Part 6, 6.2.2 asks (URI and host
    in subjectAltName, signature + encipherment key usages)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "shopfloor-gateway"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    host = socket.gethostname()
    sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri), x509.DNSName(host)]
    if host != "localhost":
        sans.append(x509.DNSName("localhost"))
    first = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    usage = [first, ExtendedKeyUsageOID.CLIENT_AUTH if server else ExtendedKeyUsageOID.SERVER_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.DER))


def gateway_application_uri() -> str:
    return f"urn:{socket.gethostname()}:shopfloor-gateway:edge-agent"


def ensure_own_certificate(pki_dir: Path) -> OwnCertificate:
    """The gateway's certificate, created on first run and reused afterwards (servers trust
    it once; a new one every start would need trusting again every time)."""
    uri = gateway_application_uri()
    own = OwnCertificate(pki_dir / "own" / "cert.der", pki_dir / "own" / "key.pem", uri)
    for sub in ("trusted", "rejected"):
        (pki_dir / sub).mkdir(parents=True, exist_ok=True)
    expired = own.cert.exists() and load_certificate(own.cert).not_valid_after_utc < dt.datetime.now(dt.UTC)
    if not (own.cert.exists() and own.key.exists()) or expired:
        make_self_signed(own.cert, own.key, application_uri=uri, common_name="shopfloor-gateway edge-agent")
    # whoever reads the key can be this gateway to every server that trusts it
    check_private(own.key, what="the gateway's OPC UA key (pki_dir/own/key.pem)")
    return own


def _trusted(pki_dir: Path) -> list[x509.Certificate]:
    out = []
    for p in sorted((pki_dir / "trusted").glob("*")):
        if p.is_file() and p.suffix.lower() in (".der", ".pem", ".crt", ".cer"):
            try:
                out.append(load_certificate(p))
            except ValueError:
                continue  # an unreadable file is not a trusted certificate
    return out


def is_trusted(pki_dir: Path, cert: x509.Certificate) -> bool:
    der = cert.public_bytes(serialization.Encoding.DER)
    for t in _trusted(pki_dir):
        if t.public_bytes(serialization.Encoding.DER) == der:
            return True
        try:
            ca = t.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            ca = False
        if ca and t.subject == cert.issuer:
            try:
                cert.verify_directly_issued_by(t)
                return True
            except (ValueError, TypeError, x509.InvalidSignature):  # type: ignore[attr-defined]
                continue
    return False


def _file_name(cert: x509.Certificate) -> str:
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else "server"
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", cn).strip("_")[:48] or "server"
    return f"{safe}_{thumbprint(cert.public_bytes(serialization.Encoding.DER))[:16]}.der"


def reject(pki_dir: Path, cert: x509.Certificate) -> Path:
    """Keep a refused certificate in rejected/ so the technician can inspect and trust it."""
    path = pki_dir / "rejected" / _file_name(cert)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    return path


def untrusted_message(*, device: str, url: str, cert: x509.Certificate, saved: Path) -> str:
    return (
        f"device {device}: server certificate of {url} is not trusted: {describe(cert)}; "
        f"saved to {saved}; if it is the right server, trust it with: {TRUST_COMMAND} {saved}"
    )


def trust_certificate(pki_dir: Path | str, cert_path: Path | str) -> Path:
    """Copy a server (or CA) certificate into trusted/ as DER, and drop it from rejected/.

    The ``edge-agent trust-cert <path>`` command calls this. Raises ValueError when the file
    is not a certificate, FileNotFoundError when it does not exist.
    """
    pki_dir, cert_path = Path(pki_dir), Path(cert_path)
    try:
        cert = load_certificate(cert_path)
    except ValueError as err:
        raise ValueError(f"{cert_path}: not a DER or PEM X.509 certificate") from err
    target = pki_dir / "trusted" / _file_name(cert)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    stale = pki_dir / "rejected" / target.name
    if stale.exists() and stale.resolve() != target.resolve():
        stale.unlink()
    return target
