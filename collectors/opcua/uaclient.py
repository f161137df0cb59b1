"""The one client-side module that imports asyncua; it needs the 2.1 line (connection_lost_callback,
raw ``Client.uaclient`` services), so pyproject should pin ``asyncua>=2.1,<2.2``.

It opens one session (security, user token, trust check), reads in batches, runs one
subscription through the raw service interface (``Client.uaclient``) so notifications reach
us as plain (handle, DataValue) pairs without a task or object per change, and converts every
library error into ours. Reconnection is not done here: asyncua's own auto-reconnect is off,
a lost connection surfaces as DeviceUnreachable and the supervisor starts a fresh session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from asyncua import Client, ua
from asyncua.crypto import security_policies
from asyncua.ua.uaerrors import UaError, UaStatusCodeError
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from collectors.base import CollectorError, DeviceUnreachable, ReadFailed
from collectors.opcua import pki
from collectors.opcua.config import OpcUaOptions
from collectors.opcua.convert import BAD_NODE_ID_UNKNOWN, RawValue, epoch_ms
from collectors.opcua.errors import SecurityRejected, UntrustedServerCertificate
from collectors.opcua.items import BrowsedVariable, MonitorSpec
from device_profiles.opcua import NodeRef

logging.getLogger("asyncua").setLevel(logging.WARNING)

T = TypeVar("T")

_KINDS = {
    "i": ua.NodeIdType.Numeric,
    "s": ua.NodeIdType.String,
    "g": ua.NodeIdType.Guid,
    "b": ua.NodeIdType.ByteString,
}
_KIND_OF = {0: "i", 1: "i", 2: "i", 3: "s", 4: "g", 5: "b"}  # NodeIdType -> notation letter
_POLICIES: dict[str, type[security_policies.SecurityPolicy]] = {
    "Basic256Sha256": security_policies.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": security_policies.SecurityPolicyAes128Sha256RsaOaep,
}
_SECURITY_CODES = ("BadUser", "BadIdentity", "BadCertificate", "BadSecurity", "BadNonce", "BadApplication")
_DEADBAND = {"absolute": 1, "percent": 2}
_FILTER_REFUSED = (
    "BadMonitoredItemFilterUnsupported",
    "BadFilterNotAllowed",
    "BadDeadbandFilterInvalid",
    "BadMonitoredItemFilterInvalid",
)


def code_name(code: int) -> str:
    return str(ua.StatusCode(ua.UInt32(code)).name)


def raw_of(dv: ua.DataValue) -> RawValue:
    code = dv.StatusCode.value if dv.StatusCode is not None else 0
    value = dv.Value.Value if dv.Value is not None else None
    return RawValue(
        value,
        code,
        code_name(code) if code else "Good",
        epoch_ms(dv.SourceTimestamp),
        epoch_ms(dv.ServerTimestamp),
    )


class UaConnection:
    """One session with one server. Not reusable: after close() make a new one."""

    def __init__(self, url: str, *, device: str, options: OpcUaOptions, timeout_s: float) -> None:
        self.url, self.device, self.options, self.timeout_s = url, device, options, timeout_s
        self.client = Client(url, timeout=timeout_s, watchdog_intervall=options.watchdog_s)
        self.namespaces: list[str] = []
        self.filter_fallbacks: list[int] = []  # handles whose deadband the server refused
        self._pending: list[tuple[int, RawValue]] = []
        self._wake = asyncio.Event()
        self._lost: str | None = None
        self._subscription_id: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        c = self.client
        c.name = c.description = "shopfloor-gateway edge-agent"
        c.application_uri = pki.gateway_application_uri()
        c.session_timeout = int(self.options.session_timeout_s * 1000)
        c.connection_lost_callback = self._on_lost
        try:
            await asyncio.wait_for(self._open(), self.options.connect_timeout_s)
        except (CollectorError, asyncio.CancelledError):  # ours already, or the caller gave up
            await asyncio.shield(self.close())
            raise
        except Exception as err:
            await self.close()
            raise self._convert(err, "connect") from err

    async def _open(self) -> None:
        o, c = self.options, self.client
        if o.security_policy != "None":
            await self._set_security()
        if o.auth == "username":
            c.set_user(o.username or "")
            c.set_password(o.password(self.device) or "")
        elif o.auth == "certificate":
            assert o.user_cert is not None and o.user_key is not None
            await c.load_client_certificate(str(o.user_cert))
            await c.load_private_key(Path(o.user_key))
        await c.connect()
        self.namespaces = await c.get_namespace_array()

    async def _set_security(self) -> None:
        o, c = self.options, self.client
        own = pki.ensure_own_certificate(o.pki_dir)
        policy = _POLICIES[o.security_policy]
        mode = getattr(ua.MessageSecurityMode, o.security_mode)
        endpoints = await c.connect_and_get_server_endpoints()
        match = [e for e in endpoints if e.SecurityPolicyUri == policy.URI and e.SecurityMode == mode]
        if not match:
            offered = sorted({f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]}/{e.SecurityMode.name.rstrip('_')}"
                              for e in endpoints})
            raise SecurityRejected(
                f"device {self.device}: {self.url} offers no endpoint with "
                f"{o.security_policy}/{o.security_mode}; "
                f"it offers {', '.join(offered)} — set options.security_policy/security_mode to one of these"
            )
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
        try:
            if self._subscription_id is not None and self._lost is None:  # a lost session has none left
                await asyncio.wait_for(
                    self.client.uaclient.delete_subscriptions([self._subscription_id]), 2.0
                )
        except Exception:  # best effort: the session is going away anyway
            pass
        try:
            await asyncio.wait_for(self.client.disconnect(), 3.0)
        except Exception:
            self.client.disconnect_socket()

    async def _on_lost(self, exc: Exception) -> None:
        self._lost = f"connection lost: {exc!r}"
        self._wake.set()

    # -- services --------------------------------------------------------------------------

    def node_id(self, ref: NodeRef) -> ua.NodeId:
        """Resolve ``nsu=`` against this session's namespace array (servers may renumber)."""
        index = ref.namespace_index
        if ref.namespace_uri is not None:
            if ref.namespace_uri not in self.namespaces:
                raise KeyError(ref.namespace_uri)
            index = self.namespaces.index(ref.namespace_uri)
        ident: Any = ref.identifier
        return ua.NodeId(ident, ua.Int16(index or 0), _KINDS[ref.kind])

    def _resolve_all(self, refs: Sequence[NodeRef]) -> list[ua.NodeId | None]:
        known = set(self.namespaces)
        return [
            None if r.namespace_uri is not None and r.namespace_uri not in known else self.node_id(r)
            for r in refs
        ]

    async def read(self, refs: Sequence[NodeRef], *, batch: int) -> list[RawValue]:
        """Batched Read of the Value attribute; a node whose namespace URI the server does not
        know comes back as BadNodeIdUnknown instead of failing the batch."""
        ids = self._resolve_all(refs)
        out: list[RawValue] = []
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            params = ua.ReadParameters()
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            params.NodesToRead = [
                ua.ReadValueId(NodeId=i, AttributeId=ua.AttributeIds.Value) for i in chunk if i is not None
            ]
            values = iter(
                await self._call(self.client.uaclient.read(params), "read") if params.NodesToRead else []
            )
            for i in chunk:
                out.append(_unknown_ns() if i is None else raw_of(next(values)))
        return out

    async def subscribe(self, specs: Sequence[MonitorSpec], *, publishing_ms: float) -> dict[int, RawValue]:
        """Create the subscription and its monitored items; returns the items the server
        refused (handle -> status). A refused deadband is retried without a filter."""
        keepalive = max(1, math.ceil(10_000 / publishing_ms))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=publishing_ms,
            RequestedLifetimeCount=keepalive * 6,
            RequestedMaxKeepAliveCount=keepalive,
            MaxNotificationsPerPublish=0,
            PublishingEnabled=True,
        )
        result = await self._call(
            self.client.uaclient.create_subscription(params, self._on_publish), "subscribe"
        )
        self._subscription_id = result.SubscriptionId
        failed: dict[int, RawValue] = {}
        ids = self._resolve_all([s.node for s in specs])
        todo = []
        for spec, nid in zip(specs, ids, strict=True):
            if nid is None:
                failed[spec.handle] = _unknown_ns()
            else:
                todo.append((spec, nid))
        retry = await self._create_items(todo, failed, with_filter=True)
        if retry:
            self.filter_fallbacks = [s.handle for s, _ in retry]
            await self._create_items(retry, failed, with_filter=False)
        return failed

    async def _create_items(
        self, items: list[tuple[MonitorSpec, ua.NodeId]], failed: dict[int, RawValue], *, with_filter: bool
    ) -> list[tuple[MonitorSpec, ua.NodeId]]:
        retry = []
        for start in range(0, len(items), 1000):
            chunk = items[start : start + 1000]
            params = ua.CreateMonitoredItemsParameters()
            params.SubscriptionId = self._subscription_id
            params.TimestampsToReturn = ua.TimestampsToReturn.Both
            params.ItemsToCreate = [_item_request(s, nid, with_filter=with_filter) for s, nid in chunk]
            results = await self._call(self.client.uaclient.create_monitored_items(params), "subscribe")
            for (spec, nid), res in zip(chunk, results, strict=True):
                code = res.StatusCode.value
                if res.StatusCode.is_good():
                    continue
                if with_filter and spec.deadband_type != "none" and code_name(code) in _FILTER_REFUSED:
                    retry.append((spec, nid))
                else:
                    failed[spec.handle] = RawValue(None, code, code_name(code), None, None)
        return retry

    def _on_publish(self, result: ua.PublishResult) -> None:
        for notif in result.NotificationMessage.NotificationData or []:
            if isinstance(notif, ua.DataChangeNotification):
                self._pending.extend((item.ClientHandle, raw_of(item.Value)) for item in notif.MonitoredItems)
            elif isinstance(notif, ua.StatusChangeNotification) and not notif.Status.is_good():
                self._lost = f"subscription ended by {code_name(notif.Status.value)}"
        self._wake.set()

    async def changes(self, *, timeout: float) -> list[tuple[int, RawValue]]:
        """Notifications since the last call, waiting up to ``timeout`` for the first;
        raises DeviceUnreachable once the session is gone."""
        if not self._pending and self._lost is None:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        if self._lost is not None and not self._pending:
            raise DeviceUnreachable(f"device {self.device}: {self.url}: {self._lost}")
        out, self._pending = self._pending, []
        return out

    async def browse(
        self, *, depth: int, limit: int = 20_000
    ) -> tuple[list[BrowsedVariable], dict[str, str]]:
        """Variables under Objects (the Server diagnostics object left out) down to ``depth``
        levels, with data type, rank and minimum sampling interval; plus the server's build info."""
        found: list[tuple[list[str], ua.NodeId]] = []
        level: list[tuple[list[str], Any]] = [([], self.client.nodes.objects)]
        for _ in range(depth):
            nxt = []
            for path, node in level:
                for r in await self._call(node.get_children_descriptions(), "browse"):
                    here = [*path, str(r.BrowseName.Name)]
                    if r.NodeId == _nid(ua.ObjectIds.Server) or len(found) >= limit:
                        continue
                    if r.NodeClass == ua.NodeClass.Variable:
                        found.append((here, r.NodeId))
                    elif r.NodeClass == ua.NodeClass.Object:
                        nxt.append((here, self.client.get_node(r.NodeId)))
            level = nxt
        attrs = [
            ua.AttributeIds.DataType,
            ua.AttributeIds.ValueRank,
            ua.AttributeIds.ArrayDimensions,
            ua.AttributeIds.MinimumSamplingInterval,
            ua.AttributeIds.Description,
        ]
        reads = [ua.ReadValueId(NodeId=nid, AttributeId=a) for _, nid in found for a in attrs]
        reads += [
            ua.ReadValueId(NodeId=ua.NodeId(i), AttributeId=ua.AttributeIds.Value)  # type: ignore[arg-type]
            for i in (2263, 2261)
        ]  # Server.ServerStatus.BuildInfo: ManufacturerName, ProductName
        got: list[Any] = []
        for start in range(0, len(reads), 1000):
            got += [
                v.Value.Value if v.Value is not None else None
                for v in await self._call(
                    self.client.uaclient.read(ua.ReadParameters(NodesToRead=reads[start : start + 1000])),
                    "browse",
                )
            ]
        out = []
        for i, (path, nid) in enumerate(found):
            dtype, rank, dims, msi, desc = got[i * 5 : i * 5 + 5]
            out.append(
                BrowsedVariable(
                    path,
                    self.namespaces[nid.NamespaceIndex] if nid.NamespaceIndex else None,
                    nid.NamespaceIndex,
                    _KIND_OF[int(nid.NodeIdType)],
                    nid.Identifier,
                    dtype.Identifier if dtype is not None and dtype.NamespaceIndex == 0 else None,
                    rank,
                    list(dims or []),
                    msi,
                    getattr(desc, "Text", None),
                )
            )
        info = {k: str(v) for k, v in zip(("manufacturer", "model"), got[-2:], strict=True) if v}
        return out, info

    async def _call(self, aw: Awaitable[T], what: str) -> T:
        try:
            return await asyncio.wait_for(aw, self.timeout_s * 2)
        except Exception as err:  # CancelledError (a BaseException) passes through untouched
            raise self._convert(err, what) from err

    def _convert(self, err: BaseException, what: str) -> Exception:
        where = f"device {self.device}: {self.url}: {what}"
        if isinstance(err, UaStatusCodeError):
            name = code_name(err.code)
            if name.startswith(_SECURITY_CODES):
                return SecurityRejected(
                    f"{where} refused: {name} — check options.auth, username/password_env, "
                    "user_cert, and that the server trusts the gateway certificate"
                )
            if what == "read" and name not in (
                "BadSessionIdInvalid",
                "BadSessionClosed",
                "BadConnectionClosed",
            ):
                return ReadFailed(f"{where} failed: {name}")
            return DeviceUnreachable(f"{where} failed: {name}")
        if isinstance(err, TimeoutError | asyncio.TimeoutError):
            return DeviceUnreachable(f"{where} timed out")
        if isinstance(err, OSError | ConnectionError):
            return DeviceUnreachable(
                f"{where} failed: {err.strerror or err!r}"
                if isinstance(err, OSError)
                else f"{where} failed: {err!r}"
            )
        if isinstance(err, UaError):
            return DeviceUnreachable(f"{where} failed: {err}")
        return DeviceUnreachable(f"{where} failed: {err!r}")


def _nid(i: Any) -> ua.NodeId:
    return ua.NodeId(i)


def _unknown_ns() -> RawValue:
    return RawValue(
        None, BAD_NODE_ID_UNKNOWN, "BadNodeIdUnknown: namespace URI not on the server", None, None
    )


def _item_request(spec: MonitorSpec, nid: ua.NodeId, *, with_filter: bool) -> ua.MonitoredItemCreateRequest:
    flt: Any = None
    if with_filter and spec.deadband_type != "none":
        flt = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValue,
                                  DeadbandType=_DEADBAND[spec.deadband_type],
                                  DeadbandValue=spec.deadband_value)
    params = ua.MonitoringParameters(ClientHandle=spec.handle, SamplingInterval=spec.sampling_ms,
                                     Filter=flt, QueueSize=spec.queue_size, DiscardOldest=True)
    target = ua.ReadValueId(NodeId=nid, AttributeId=ua.AttributeIds.Value)
    return ua.MonitoredItemCreateRequest(ItemToMonitor=target, MonitoringMode=ua.MonitoringMode.Reporting,
                                         RequestedParameters=params)


__all__ = ["UaConnection", "code_name"]
