"""TLS for the product's MQTT clients (the cloud's ingest, and the gateway's agent): one settings
model, one way to build the ``ssl`` context, and one translation from what OpenSSL says to what
a technician has to do.

A config holds ``tls:`` under its broker section (``mqtt.tls`` in the cloud config,
``broker.tls`` in the gateway's): the CA that issued the broker's certificate, and for mutual
TLS this client's certificate and key. Files are checked when the context is built, so a
wrong path, an expired certificate, a key that does not match or a key file others may read is
an error naming the file before any connection is tried. What can only be seen in a handshake
(a broker certificate from another CA, an expired one, one for another host name, a broker that
refuses our certificate) is explained by `describe_handshake_error`; `diagnose` opens one TLS
connection to find it, for clients whose library only reports "connection lost".

Errors read ``<中文> (<English>): <what is wrong>; <the fix>`` and name the config field
(``mqtt.tls.ca_file``) and the file. The key's password, if any, is read with
`common.secrets.read_secret` and never appears in a message.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from common.model import Frozen
from common.secrets import SecretError, check_private, read_secret

if TYPE_CHECKING:
    from cryptography import x509

__all__ = ["TlsError", "TlsSettings", "client_context", "describe_handshake_error", "diagnose"]

EXPIRY_WARNING_DAYS = 30

# OpenSSL verify codes (include/openssl/x509_vfy.h) a broker's certificate fails with
_UNTRUSTED = {2, 18, 19, 20, 21, 27}  # no issuer in our CA file, self-signed, not trusted
_EXPIRED, _NOT_YET_VALID = 10, 9
_NAME_MISMATCH = {62, 64}  # host name, IP address


class TlsError(ValueError):
    """A TLS setting that cannot work, or a handshake that failed, with the fix."""


class TlsSettings(Frozen):
    """``tls:`` of a broker section; its presence turns TLS on."""

    ca_file: str | None = Field(
        None, description="PEM file of the CA(s) that issued the broker's certificate; system CAs if empty")
    cert_file: str | None = Field(None, description="this client's certificate (PEM) for mutual TLS")
    key_file: str | None = Field(
        None, description="its private key (PEM, mode 0600); inside cert_file when empty")
    key_password_env: str | None = Field(None, description="environment variable holding the key's password")
    key_password_file: str | None = Field(None, description="file holding the key's password (mode 0600)")
    min_version: Literal["1.2", "1.3"] = "1.2"

    @model_validator(mode="after")
    def _pairs(self) -> TlsSettings:
        if self.key_file and not self.cert_file:
            raise ValueError("key_file needs cert_file (the certificate the key belongs to)")
        if (self.key_password_env or self.key_password_file) and not self.cert_file:
            raise ValueError("key_password_env/key_password_file need cert_file and key_file")
        return self

    @property
    def mutual(self) -> bool:
        return self.cert_file is not None


def _x509() -> ModuleType:
    """cryptography's x509, imported when a certificate is first read: it is about 9 MB of an
    agent's memory, which a gateway without TLS (most of them) should not pay."""
    from cryptography import x509

    return x509


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read_pem_certs(path: str, *, what: str) -> list[x509.Certificate]:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise TlsError(f"证书文件无法读取 (cannot read certificate): {what}: {path}: {err.strerror}; "
                       "check the path and that this user may read it") from err
    try:
        certs: list[x509.Certificate] = _x509().load_pem_x509_certificates(data)
    except ValueError as err:
        raise TlsError(f"不是 PEM 证书 (not a PEM certificate): {what}: {path} holds no certificate in "
                       "PEM form (-----BEGIN CERTIFICATE-----); convert a DER file with "
                       f"`openssl x509 -inform der -in FILE -out {path}`") from err
    return certs


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


def _check_validity(cert: x509.Certificate, *, what: str, path: str, now: dt.datetime,
                    warnings: list[str]) -> None:
    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now > end:
        raise TlsError(
            f"证书已过期 (certificate expired): {what}: {path} ({_subject(cert)}) expired on "
            f"{end:%Y-%m-%d %H:%M} UTC; issue a new certificate and key and replace the files "
            "(docs/security.md, rotating certificates), or check this machine's clock "
            f"(it says {now:%Y-%m-%d %H:%M} UTC)")
    if now < start:
        raise TlsError(
            f"证书尚未生效 (certificate not yet valid): {what}: {path} ({_subject(cert)}) is valid from "
            f"{start:%Y-%m-%d %H:%M} UTC; this machine's clock says {now:%Y-%m-%d %H:%M} UTC: "
            "set the clock (NTP) or use a certificate valid now")
    if end - now < dt.timedelta(days=EXPIRY_WARNING_DAYS):
        warnings.append(f"{what}: {path} ({_subject(cert)}) expires on {end:%Y-%m-%d} UTC: renew it soon")


def client_context(settings: TlsSettings, *, field: str, now: dt.datetime | None = None,
                   warnings: list[str] | None = None) -> ssl.SSLContext:
    """The context for connecting to a broker: its certificate verified against ``ca_file`` (or
    the system's CAs) and its host name checked; our certificate presented when configured.
    ``field`` is the config path of ``settings`` (``mqtt.tls``), used in every error; certificates
    that expire within 30 days are reported in ``warnings``."""
    now = now or _now()
    notes = warnings if warnings is not None else []
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3 if settings.min_version == "1.3" else ssl.TLSVersion.TLSv1_2
    if settings.ca_file:
        what = f"{field}.ca_file"
        for cert in _read_pem_certs(settings.ca_file, what=what):
            _check_validity(cert, what=what, path=settings.ca_file, now=now, warnings=notes)
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=settings.ca_file)
        ctx.minimum_version = (ssl.TLSVersion.TLSv1_3 if settings.min_version == "1.3"
                               else ssl.TLSVersion.TLSv1_2)
    if settings.cert_file:
        _load_client_cert(ctx, settings, field=field, now=now, warnings=notes)
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, settings: TlsSettings, *, field: str, now: dt.datetime,
                      warnings: list[str]) -> None:
    assert settings.cert_file is not None
    what = f"{field}.cert_file"
    certs = _read_pem_certs(settings.cert_file, what=what)
    _check_validity(certs[0], what=what, path=settings.cert_file, now=now, warnings=warnings)
    key_path = settings.key_file or settings.cert_file
    key_what = f"{field}.key_file" if settings.key_file else what
    try:
        check_private(key_path, what=key_what)
        password = read_secret(env=settings.key_password_env, file=settings.key_password_file,
                               field=f"{field}.key_password")
    except SecretError as err:
        raise TlsError(f"私钥文件不安全或无法读取 (private key unsafe or unreadable): {err}") from err
    try:
        ctx.load_cert_chain(settings.cert_file, settings.key_file,
                            password=password.get_secret_value() if password else None)
    except ssl.SSLError as err:
        reason = (err.reason or "").upper()
        if "KEY_VALUES_MISMATCH" in reason:
            problem = (f"{key_path} is not the key of {settings.cert_file}; give the key that was made "
                       "with this certificate")
        elif "BAD_DECRYPT" in reason or "BAD_PASSWORD" in reason or "DECRYPT" in reason:
            problem = (f"{key_path} is encrypted and the password from {field}.key_password_env/_file "
                       "does not open it (or none is set)")
        else:
            problem = f"{key_path} holds no usable private key in PEM form ({err.reason or err})"
        raise TlsError(f"私钥无法使用 (private key unusable): {key_what}: {problem}") from None


def _peer_names(host: str, port: int, *, timeout: float) -> list[str]:
    """The names a broker's certificate lists, read without verifying it (diagnosis only)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except OSError:
        return []
    if not der:
        return []
    x509_ = _x509()
    cert = x509_.load_der_x509_certificate(der)
    try:
        alt = cert.extensions.get_extension_for_class(x509_.SubjectAlternativeName).value
    except x509_.ExtensionNotFound:
        return [a.value for a in cert.subject.get_attributes_for_oid(x509_.oid.NameOID.COMMON_NAME)
                if isinstance(a.value, str)]
    ips = [str(i) for i in alt.get_values_for_type(x509_.IPAddress)]
    return [*alt.get_values_for_type(x509_.DNSName), *ips]


def describe_handshake_error(err: BaseException, *, settings: TlsSettings, field: str, host: str,
                             port: int, timeout: float = 5.0) -> str | None:
    """What a failed TLS handshake with the broker means and what to change, or None when
    ``err`` is not a TLS problem (a refused connection, a timeout: the caller says those)."""
    where = f"broker {host}:{port}"
    ca = (f"{field}.ca_file ({settings.ca_file})" if settings.ca_file
          else f"the system's CAs ({field}.ca_file is empty)")
    if isinstance(err, ssl.SSLCertVerificationError):
        code = err.verify_code
        if code in _UNTRUSTED:
            return (f"服务器证书不受信任 (broker certificate not trusted): {where} presented a certificate "
                    f"that {ca} did not issue ({err.verify_message}); set {field}.ca_file to the CA "
                    "certificate that issued the broker's certificate (ask the broker's operator for it)")
        if code == _EXPIRED:
            return (f"服务器证书已过期 (broker certificate expired): {where} presented an expired "
                    "certificate (or one issued by an expired CA); the broker's operator must renew it "
                    "(docs/security.md); also check this machine's clock "
                    f"(it says {_now():%Y-%m-%d %H:%M} UTC)")
        if code == _NOT_YET_VALID:
            return (f"服务器证书尚未生效 (broker certificate not yet valid): {where}; this machine's clock "
                    f"says {_now():%Y-%m-%d %H:%M} UTC: set the clock (NTP)")
        if code in _NAME_MISMATCH:
            names = _peer_names(host, port, timeout=timeout)
            listed = ", ".join(names) if names else "(could not be read)"
            return (f"服务器证书与主机名不符 (host name mismatch): the certificate of {where} is not valid "
                    f"for {host!r}, it names {listed}; connect with one of those names (set "
                    f"{field.rsplit('.', 1)[0]}.host), or have the broker's certificate reissued with "
                    f"{host} in its subjectAltName")
        return f"服务器证书校验失败 (broker certificate rejected): {where}: {err.verify_message}; check {ca}"
    if isinstance(err, ssl.SSLError):
        reason = (err.reason or str(err)).upper()
        cert = settings.cert_file
        if "CERTIFICATE_REQUIRED" in reason or ("HANDSHAKE_FAILURE" in reason and not cert):
            return (f"代理要求客户端证书 (broker requires a client certificate): {where} asks for mutual "
                    f"TLS; set {field}.cert_file and {field}.key_file to this client's certificate and key")
        if "UNKNOWN_CA" in reason and cert:
            return (f"代理不信任客户端证书 (broker does not trust our certificate): {where} refused "
                    f"{field}.cert_file ({cert}): it was not issued by the CA in the broker's cafile; "
                    "get a certificate from that CA")
        if "CERTIFICATE_EXPIRED" in reason and cert:
            return (f"代理认为客户端证书已过期 (broker says our certificate expired): {where} refused "
                    f"{field}.cert_file ({cert}); issue a new one, and check both machines' clocks")
        if ("BAD_CERTIFICATE" in reason or "CERTIFICATE_UNKNOWN" in reason
                or "UNSUPPORTED_CERTIFICATE" in reason) and cert:
            return (f"代理拒绝客户端证书 (broker rejected our certificate): {where} refused "
                    f"{field}.cert_file ({cert}): {err.reason}; it must be a client certificate "
                    "(extended key usage clientAuth) from the broker's CA")
        if "WRONG_VERSION_NUMBER" in reason or "RECORD_LAYER_FAILURE" in reason or "PACKET_LENGTH" in reason:
            return (f"端口不是 TLS (not a TLS port): {where} did not answer in TLS; use the broker's TLS "
                    "port (usually 8883), or remove the tls section for a plain listener")
        if "UNSUPPORTED_PROTOCOL" in reason or "PROTOCOL_VERSION" in reason:
            return (f"TLS 版本不一致 (TLS version mismatch): {where} and this client share no TLS version; "
                    f"{field}.min_version is {settings.min_version}")
        if "UNEXPECTED_EOF" in reason or isinstance(err, ssl.SSLEOFError):
            return _closed_in_handshake(where)
        return f"TLS 握手失败 (TLS handshake failed): {where}: {err.reason or err}"
    if isinstance(err, ConnectionResetError | BrokenPipeError):
        return _closed_in_handshake(where)
    return None


def _closed_in_handshake(where: str) -> str:
    return (f"端口不是 TLS (not a TLS port?): {where} closed the connection during the TLS handshake; "
            "use the broker's TLS port (usually 8883, plain MQTT is 1883), or remove the tls section "
            "for a plain listener")


def diagnose(host: str, port: int, ctx: ssl.SSLContext, *, settings: TlsSettings, field: str,
             timeout: float = 5.0) -> str | None:
    """Open one TLS connection with ``ctx`` and say what is wrong with it, or None if TLS works.

    A broker that refuses our certificate does so after the TLS 1.3 handshake, in an alert on
    the first read; MQTT libraries then only see the connection close. So this reads once: an
    alert arrives at once, while a broker that accepted us waits for our CONNECT."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                ctx.wrap_socket(raw, server_hostname=host) as tls:
            tls.settimeout(min(timeout, 1.0))
            try:
                tls.recv(1)
            except TimeoutError:
                return None
            return None
    except ssl.SSLError as err:
        return describe_handshake_error(err, settings=settings, field=field, host=host, port=port,
                                        timeout=timeout)
    except OSError:
        return None
