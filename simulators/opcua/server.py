"""An OPC UA server that plays a device from its profile: the profile's nodes, animated by
the shared generators, with the security modes and user tokens of a real PLC, and faults on
command (a node turned bad in-process with ``set_bad`` or over OPC UA with the
``Simulator/SetBad`` method).

The simulator side's only asyncua import. Usable in-process from tests::

    async with OpcUaSimulator(profile, port=free_port(), security=["None"]) as sim:
        ... sim.endpoint ...
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from asyncua import Server, ua
from asyncua.common.node import Node
from asyncua.crypto.permission_rules import User, UserRole
from cryptography.hazmat.primitives.serialization import Encoding

from collectors.opcua.pki import load_certificate, make_self_signed
from device_profiles.opcua import OpcUaProfile, OpcUaTag
from simulators.network import LISTEN_HINT
from simulators.opcua import aspace_shelf
from simulators.opcua.values import tag_source

logging.getLogger("asyncua").setLevel(logging.WARNING)
log = logging.getLogger("device_sim.opcua")


class _StartFailureReported(logging.Filter):
    """asyncua logs a traceback when its server cannot start and then raises; `start` reports
    that error itself (where it tried to listen), so the traceback is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "error starting server" not in str(record.msg)


logging.getLogger("asyncua.server.server").addFilter(_StartFailureReported())

# Our names for the security modes (as in the collector's options) -> asyncua's endpoint types.
SECURITY_MODES: dict[str, str] = {
    "None": "NoSecurity",
    "Basic256Sha256_Sign": "Basic256Sha256_Sign",
    "Basic256Sha256_SignAndEncrypt": "Basic256Sha256_SignAndEncrypt",
    "Aes128_Sha256_RsaOaep_Sign": "Aes128Sha256RsaOaep_Sign",
    "Aes128_Sha256_RsaOaep_SignAndEncrypt": "Aes128Sha256RsaOaep_SignAndEncrypt",
}
SIM_NAMESPACE = "urn:shopfloor-gateway:simulator"


class _Users:
    """Anonymous, username/password and user-certificate tokens, as a PLC's user list."""

    def __init__(self, *, anonymous: bool, passwords: dict[str, str], cert_ders: list[bytes]) -> None:
        self.anonymous, self.passwords, self.cert_ders = anonymous, passwords, cert_ders
        self.x509_token: bytes | None = None

    def watch_x509(self, iserver: Any) -> None:
        """asyncua hands get_user the secure channel's client certificate for every token
        type; only its X.509 token check tells a user certificate apart. Activation is
        synchronous, so remembering that check's result until get_user is race-free."""
        verify = iserver.verify_x509_token

        def verified(*args: Any, **kwargs: Any) -> Any:
            cert = verify(*args, **kwargs)
            self.x509_token = bytes(cert) if cert else b""
            return cert

        iserver.verify_x509_token = verified

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        token, self.x509_token = self.x509_token, None
        if token is not None:
            return User(role=UserRole.User, name="cert") if token in self.cert_ders else None
        if username is not None:
            ok = username in self.passwords and self.passwords[username] == password
            return User(role=UserRole.User, name=username) if ok else None
        return User(role=UserRole.User) if self.anonymous else None


class OpcUaSimulator:
    def __init__(
        self,
        profile: OpcUaProfile,
        *,
        port: int,
        host: str = "127.0.0.1",
        security: Sequence[str] = ("None",),
        users: dict[str, str] | None = None,
        user_certs: Sequence[Path] = (),
        anonymous: bool = True,
        pki_dir: Path | None = None,
        namespace_shift: int = 0,
        tick_s: float | None = None,
        seed: int = 0,
    ) -> None:
        unknown = [m for m in security if m not in SECURITY_MODES]
        if unknown or not security:
            raise ValueError(f"security modes {unknown or '(none)'}: valid are {', '.join(SECURITY_MODES)}")
        self.profile, self.host, self.port = profile, host, port
        self.security = list(security)
        self.users = dict(users or {})
        self.user_certs = [Path(p) for p in user_certs]
        self.anonymous = anonymous
        self.namespace_shift = namespace_shift
        self.seed = seed
        fastest = min(profile.sampling_of(t) for t in profile.tags) / 1000
        self.tick_s = tick_s or min(1.0, max(0.05, fastest / 2))
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if pki_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sfg-opcua-sim-")
            pki_dir = Path(self._tmp.name)
        self.pki_dir = pki_dir
        self.certificate = pki_dir / "own" / "server_cert.der"
        self.private_key = pki_dir / "own" / "server_key.pem"
        self.application_uri = f"urn:shopfloor-gateway:simulator:{profile.profile}"
        self.nodes: dict[str, ua.NodeId] = {}
        self._bad: dict[str, int] = {}
        self._sources: dict[str, Callable[[float, dt.datetime], Any]] = {}
        self._tags: dict[str, OpcUaTag] = {t.name: t for t in profile.tags}
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        users = _Users(
            anonymous=self.anonymous, passwords=self.users, cert_ders=[_der(p) for p in self.user_certs]
        )
        server = await aspace_shelf.initialised(lambda: Server(user_manager=users))  # type: ignore[arg-type]
        users.watch_x509(server.iserver)
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"shopfloor-gateway simulator: {self.profile.profile}")
        await server.set_application_uri(self.application_uri)
        # What discovery shows as the device: the profile's maker and model, not the library's.
        maker = self.profile.manufacturer or "shopfloor-gateway simulator"
        await server.set_build_info(self.application_uri, maker, self.profile.profile, "1.0", "1",
                                    dt.datetime.now(dt.UTC))
        server.set_security_policy([getattr(ua.SecurityPolicyType, SECURITY_MODES[m]) for m in self.security])
        tokens: list[type] = [ua.AnonymousIdentityToken] if self.anonymous else []
        if self.users:
            tokens.append(ua.UserNameIdentityToken)
        if self.user_certs:
            tokens.append(ua.X509IdentityToken)
        server.set_identity_tokens(tokens)
        if not (self.certificate.exists() and self.private_key.exists()):
            make_self_signed(
                self.certificate,
                self.private_key,
                application_uri=self.application_uri,
                common_name=f"simulator {self.profile.profile}",
                server=True,
            )
        await server.load_certificate(str(self.certificate))
        await server.load_private_key(str(self.private_key))
        await self._build(server)
        try:
            await server.start()
        except OSError as err:  # the port is taken: say where, as the Modbus simulator does
            raise OSError(f"cannot listen on {self.host}:{self.port}: {err.strerror or err}"
                          + LISTEN_HINT) from err
        self._server = server
        self._t0 = time.monotonic()
        self._task = asyncio.create_task(self._animate(), name=f"opcua-sim-{self.profile.profile}")
        log.info(
            "OPC UA simulator %s on %s (%s)", self.profile.profile, self.endpoint, ", ".join(self.security)
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        server, self._server = self._server, None
        if server is not None:
            await asyncio.wait_for(server.stop(), 10)

    def close(self) -> None:
        """Remove the temporary PKI directory, if the simulator made one."""
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- address space ---------------------------------------------------------------------

    async def _build(self, server: Server) -> None:
        for i in range(self.namespace_shift):
            await server.register_namespace(f"urn:shopfloor-gateway:simulator:padding:{i}")
        # The profile's namespaces first, so that ns=2 is its first one, as on the real device.
        uris = list(self.profile.namespaces)
        uris += [u for t in self.profile.tags if (u := t.ref.namespace_uri) and u not in uris]
        for uri in uris:
            await server.register_namespace(uri)
        sim_ns = await server.register_namespace(SIM_NAMESPACE)
        array = await server.get_namespace_array()
        for t in self.profile.tags:
            while (t.ref.namespace_index or 0) >= len(array):
                await server.register_namespace(f"urn:shopfloor-gateway:simulator:ns{len(array)}")
                array = await server.get_namespace_array()
        root = await server.nodes.objects.add_folder(_nid(self.profile.profile, sim_ns), self.profile.profile)
        folders: dict[tuple[int, str], Node] = {}
        now = dt.datetime.now(dt.UTC)
        for i, tag in enumerate(self.profile.tags):
            ref = tag.ref
            ns = array.index(ref.namespace_uri) if ref.namespace_uri else (ref.namespace_index or 0)
            nid = _nid(ref.identifier, ns, _NODE_KINDS[ref.kind])
            parent, bname = root, tag.name
            if ref.kind == "s" and isinstance(ref.identifier, str) and "." in ref.identifier:
                *path, bname = ref.identifier.split(".")
                parent = await self._folder(root, folders, ns, path)
            source = tag_source(tag, seed=self.seed * 7919 + i)
            self._sources[tag.name] = source
            vt = getattr(ua.VariantType, tag.type)
            var = await parent.add_variable(
                nid, ua.QualifiedName(bname, ns), ua.Variant(source(0.0, now), vt)
            )
            if tag.array_length:
                await var.write_value_rank(1)
                await var.write_array_dimensions([tag.array_length])  # type: ignore[arg-type]
            if tag.writable:
                await var.set_writable()
            if tag.description:
                await var.write_attribute(
                    ua.AttributeIds.Description, ua.DataValue(ua.Variant(ua.LocalizedText(tag.description)))
                )
            self.nodes[tag.name] = nid
        ctl = await server.nodes.objects.add_object(_nid("Simulator", sim_ns), "Simulator")
        await ctl.add_method(
            _nid("Simulator.SetBad", sim_ns),
            "SetBad",
            self._m_set_bad,
            [ua.VariantType.String, ua.VariantType.String],
            [ua.VariantType.Boolean],
        )
        await ctl.add_method(
            _nid("Simulator.SetGood", sim_ns),
            "SetGood",
            self._m_set_good,
            [ua.VariantType.String],
            [ua.VariantType.Boolean],
        )

    async def _folder(
        self, root: Node, folders: dict[tuple[int, str], Node], ns: int, path: list[str]
    ) -> Node:
        parent = root
        for depth in range(len(path)):
            key = (ns, ".".join(path[: depth + 1]))
            if key not in folders:
                folders[key] = await parent.add_object(_nid(key[1], ns), ua.QualifiedName(path[depth], ns))
            parent = folders[key]
        return parent

    # -- animation and faults --------------------------------------------------------------

    async def _animate(self) -> None:
        assert self._server is not None
        server, last = self._server, dict[str, Any]()
        while True:
            now = dt.datetime.now(dt.UTC)
            t = time.monotonic() - self._t0
            for name, nid in self.nodes.items():
                if name in self._bad:
                    continue
                value = self._sources[name](t, now)
                if last.get(name) == value:
                    continue
                last[name] = value
                vt = getattr(ua.VariantType, self._tags[name].type)
                dv = _dv(ua.Variant(value, vt), now)
                await server.write_attribute_value(nid, dv)
            await asyncio.sleep(self.tick_s)

    async def set_bad(self, tag: str, code: str = "BadSensorFailure") -> None:
        """Make a node report a bad status (the last value stays, as a PLC does), until set_good."""
        if tag not in self.nodes:
            raise KeyError(f"no tag {tag!r}; tags: {', '.join(self.nodes)}")
        status = getattr(ua.StatusCodes, code, None)
        if status is None or not code.startswith(("Bad", "Uncertain")):
            raise ValueError(f"{code!r} is not a Bad... or Uncertain... OPC UA status code name")
        self._bad[tag] = status
        assert self._server is not None
        now = dt.datetime.now(dt.UTC)
        await self._server.write_attribute_value(
            self.nodes[tag],
            _dv(None, now, status=status),
        )

    async def set_good(self, tag: str) -> None:
        if tag not in self.nodes:
            raise KeyError(f"no tag {tag!r}; tags: {', '.join(self.nodes)}")
        self._bad.pop(tag, None)
        assert self._server is not None
        now = dt.datetime.now(dt.UTC)
        value = self._sources[tag](time.monotonic() - self._t0, now)
        vt = getattr(ua.VariantType, self._tags[tag].type)
        await self._server.write_attribute_value(self.nodes[tag], _dv(ua.Variant(value, vt), now))

    async def expire_sessions(self) -> int:
        """Close every client session as the server's session timeout does, keeping the TCP
        connections open: a client must notice on its next request and build a new session."""
        assert self._server is not None
        sessions = list(self._server.iserver._external_sessions.values())
        for session in sessions:
            await session.close_session(True)
        return len(sessions)

    async def _m_set_bad(self, parent: ua.NodeId, tag: ua.Variant, code: ua.Variant) -> list[ua.Variant]:
        try:
            await self.set_bad(str(tag.Value), str(code.Value or "BadSensorFailure"))
        except (KeyError, ValueError):
            return [ua.Variant(False, ua.VariantType.Boolean)]
        return [ua.Variant(True, ua.VariantType.Boolean)]

    async def _m_set_good(self, parent: ua.NodeId, tag: ua.Variant) -> list[ua.Variant]:
        try:
            await self.set_good(str(tag.Value))
        except KeyError:
            return [ua.Variant(False, ua.VariantType.Boolean)]
        return [ua.Variant(True, ua.VariantType.Boolean)]


_NODE_KINDS = {
    "i": ua.NodeIdType.Numeric,
    "s": ua.NodeIdType.String,
    "g": ua.NodeIdType.Guid,
    "b": ua.NodeIdType.ByteString,
}


def _nid(ident: Any, ns: int, kind: Any = None) -> ua.NodeId:
    """asyncua's NewType-annotated constructor, called with plain Python values."""
    return ua.NodeId(ident, ns, kind) if kind is not None else ua.NodeId(ident, ns)  # type: ignore[arg-type]


def _dv(variant: ua.Variant | None, now: dt.datetime, *, status: int | None = None) -> ua.DataValue:
    t: Any = now
    code = ua.StatusCode(ua.UInt32(status)) if status is not None else ua.StatusCode()
    return ua.DataValue(variant or ua.Variant(), StatusCode=code, SourceTimestamp=t, ServerTimestamp=t)


def _der(path: Path) -> bytes:
    return load_certificate(path).public_bytes(Encoding.DER)
