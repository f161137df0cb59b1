"""The only module that imports asyncua on the client side: the names the session, nodes,
subscription and browse modules use, the version they need, and the conversion of the
library's errors into ours.

It needs the asyncua 2.1 line (``Client.connection_lost_callback``, the raw service interface
``Client.uaclient``); the distribution pins ``asyncua>=2.1,<2.2`` (see ``ASYNCUA_TESTED``).
"""

from __future__ import annotations

import asyncio
import logging

from asyncua import Client, ua
from asyncua.crypto import security_policies
from asyncua.ua.uaerrors import UaError, UaStatusCodeError

from collectors.base import DeviceUnreachable, ReadFailed
from collectors.opcua.errors import SecurityRejected

ASYNCUA_TESTED = "2.1"

logging.getLogger("asyncua").setLevel(logging.WARNING)

POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
}
_SECURITY_CODES = ("BadUser", "BadIdentity", "BadCertificate", "BadSecurity", "BadNonce", "BadApplication")
_SESSION_GONE = ("BadSessionIdInvalid", "BadSessionClosed", "BadConnectionClosed")


def code_name(code: int) -> str:
    return str(ua.StatusCode(ua.UInt32(code)).name)


def convert_error(err: BaseException, *, where: str, what: str) -> Exception:
    """The collector error for a failed ``what`` (connect, read, subscribe, browse) at ``where``.

    A refused user token or certificate is SecurityRejected; a Read the server refused while
    the session lives is ReadFailed (bad samples, the session stays); everything else means
    the session is gone: DeviceUnreachable, so the supervisor reconnects."""
    where = f"{where}: {what}"
    if isinstance(err, UaStatusCodeError):
        name = code_name(err.code)
        if name.startswith(_SECURITY_CODES):
            return SecurityRejected(
                f"{where} refused: {name} — check options.auth, username/password_env, "
                "user_cert, and that the server trusts the gateway certificate"
            )
        if what == "read" and name not in _SESSION_GONE:
            return ReadFailed(f"{where} failed: {name}")
        return DeviceUnreachable(f"{where} failed: {name}")
    if isinstance(err, TimeoutError | asyncio.TimeoutError):
        return DeviceUnreachable(f"{where} timed out")
    if isinstance(err, OSError):
        return DeviceUnreachable(f"{where} failed: {err.strerror or err!r}")
    if isinstance(err, UaError):
        return DeviceUnreachable(f"{where} failed: {err}")
    return DeviceUnreachable(f"{where} failed: {err!r}")


__all__ = ["ASYNCUA_TESTED", "POLICIES", "Client", "UaError", "code_name", "convert_error", "ua"]
