"""One session with one server: security policy and user token, the trust check of the
server's certificate, the namespace array, and every service call bounded by a timeout with
the library's errors converted (`api.convert_error`).

Reconnection is not done here: asyncua's own auto-reconnect is off, a lost connection
surfaces as DeviceUnreachable and the supervisor starts a fresh session.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from collectors.base import CollectorError
from collectors.opcua import pki
from collectors.opcua.config import OpcUaOptions
from collectors.opcua.errors import OptionsError, SecurityRejected, UntrustedServerCertificate
from collectors.opcua.uaclient.api import POLICIES, Client, UaError, convert_error, ua
from common.secrets import SecretError

T = TypeVar("T")


class UaSession:
    """One session with one server. Not reusable: after close() make a new one."""

    def __init__(self, url: str, *, device: str, options: OpcUaOptions, timeout_s: float) -> None:
        self.url, self.device, self.options, self.timeout_s = url, device, options, timeout_s
        self.client = Client(url, timeout=timeout_s, watchdog_intervall=options.watchdog_s)
        self.namespaces: list[str] = []
        self.lost: str | None = None  # why the session ended, once it has
        self.subscription_ids: list[int] = []  # deleted on close while the session lives
        self._on_lost: list[Callable[[], None]] = []

    @property
    def where(self) -> str:
        return f"device {self.device}: {self.url}"

    def when_lost(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the connection drops (a subscription waiting for changes)."""
        self._on_lost.append(callback)

    def mark_lost(self, why: str) -> None:
        self.lost = why
        for callback in self._on_lost:
            callback()

    async def open(self) -> None:
        c = self.client
        c.name = c.description = "shopfloor-gateway edge-agent"
        c.application_uri = pki.gateway_application_uri()
        c.session_timeout = int(self.options.session_timeout_s * 1000)
        c.connection_lost_callback = self._connection_lost
        try:
            # asyncio.timeout, not wait_for: Python 3.11's wait_for may drop a cancel that comes
            # with the answer (see collectors.supervisor._cancelled_meanwhile)
            async with asyncio.timeout(self.options.connect_timeout_s):
                await self._open()
        except (CollectorError, asyncio.CancelledError):  # ours already, or the caller gave up
            await asyncio.shield(self.close())
            raise
        except Exception as err:
            await self.close()
            # the server answered but refused: perhaps it has no endpoint without security
            refused = await self._plain_refused() if isinstance(err, UaError) else None
            raise refused or convert_error(err, where=self.where, what="connect") from err

    async def _plain_refused(self) -> SecurityRejected | None:
        """After a failed connect without security: when the server offers only secured
        endpoints, say so and which (asyncua's "No matching endpoints" names none of them).
        Asked only on this failure path, so a plain connect costs no extra round trip."""
        if self.options.security_policy != "None":
            return None
        try:
            async with asyncio.timeout(self.options.connect_timeout_s):
                endpoints = await self.client.connect_and_get_server_endpoints()
        except Exception:  # no answer to that either: the first error says enough
            return None
        if any(e.SecurityMode == ua.MessageSecurityMode.None_ for e in endpoints):
            return None
        return self._no_endpoint(endpoints)

    def _no_endpoint(self, endpoints: list[ua.EndpointDescription]) -> SecurityRejected:
        o = self.options
        offered = sorted({f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]}/{e.SecurityMode.name.rstrip('_')}"
                          for e in endpoints})
        return SecurityRejected(
            f"{self.where} offers no endpoint with {o.security_policy}/{o.security_mode}; "
            f"it offers {', '.join(offered)} — set options.security_policy/security_mode to one of these"
        )

    async def _open(self) -> None:
        o, c = self.options, self.client
        if o.security_policy != "None":
            await self._set_security()
        if o.auth == "username":
            c.set_user(o.username or "")
            c.set_password(o.password(self.device) or "")
        elif o.auth == "certificate":
            assert o.user_cert is not None and o.user_key is not None
            o.check_user_key(self.device)
            await c.load_client_certificate(str(o.user_cert))
            await c.load_private_key(Path(o.user_key))
        await c.connect()
        self.namespaces = await c.get_namespace_array()

    async def _set_security(self) -> None:
        o, c = self.options, self.client
        try:
            own = pki.ensure_own_certificate(o.pki_dir)
        except SecretError as err:
            raise OptionsError(f"device {self.device}: {err}") from err
        policy = POLICIES[o.security_policy]
        mode = getattr(ua.MessageSecurityMode, o.security_mode)
        endpoints = await c.connect_and_get_server_endpoints()
        match = [e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode]
        if not match:
            raise self._no_endpoint(endpoints)
        der = bytes(match[0].ServerCertificate)
        self._check_trust(x509.load_der_x509_certificate(pki.first_certificate(der)))
        await c.set_security(
            policy, str(own.cert), str(own.key), server_certificate=pki.first_certificate(der), mode=mode
        )

    def _check_trust(self, cert: x509.Certificate) -> None:
        if pki.is_trusted(self.options.pki_dir, cert):
            return
        saved = pki.reject(self.options.pki_dir, cert)
        msg = pki.untrusted_message(device=self.device, url=self.url, cert=cert, saved=saved)
        raise UntrustedServerCertificate(
            msg, path=saved, thumbprint=pki.thumbprint(cert.public_bytes(Encoding.DER))
        )

    async def close(self) -> None:
        # best effort: the session is going away anyway; a lost one has no subscriptions left
        if self.subscription_ids and self.lost is None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self.client.uaclient.delete_subscriptions(self.subscription_ids)
        try:
            async with asyncio.timeout(3.0):
                await self.client.disconnect()
        except Exception:
            self.client.disconnect_socket()

    async def _connection_lost(self, exc: Exception) -> None:
        self.mark_lost(f"connection lost: {exc!r}")

    async def call(self, aw: Awaitable[T], what: str) -> T:
        """One service call, bounded by twice the device timeout, library errors converted."""
        try:
            async with asyncio.timeout(self.timeout_s * 2):
                return await aw
        except Exception as err:  # CancelledError (a BaseException) passes through untouched
            raise convert_error(err, where=self.where, what=what) from err
