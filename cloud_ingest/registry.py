"""Ids for enterprises, gateways, devices and tags, cached in the worker, registered on sight.

Births keep the registry's descriptive columns current. Data naming a device or tag nobody
announced is registered too (``registered_by = 'data'``) so samples are never dropped; a later
birth fills in the details. Every write is an upsert, so several workers may race safely; the
caller runs these on an autocommit connection, outside the storing transaction, so a batch's
transaction never waits on registry row locks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg

from wire.json_v1 import BirthMessage, DeathMessage


def ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class Registry:
    def __init__(self) -> None:
        self._enterprises: dict[str, int] = {}
        self._gateways: dict[tuple[str, str], int] = {}
        self._devices: dict[tuple[int, str], int] = {}
        self._tags: dict[int, dict[tuple[str, str], int]] = {}  # enterprise_id -> (device, tag)
        self._streams: dict[tuple[int, str], int] = {}  # (gateway_id, stream) -> seq base

    def clear(self) -> None:
        """Forget cached ids (tests that recreate a database reuse a worker)."""
        self.__init__()  # type: ignore[misc]

    # -- lookups with registration -------------------------------------------------------

    def enterprise_id(self, conn: psycopg.Connection, code: str) -> int:
        cached = self._enterprises.get(code)
        if cached is not None:
            return cached
        conn.execute(
            "INSERT INTO enterprises (code, registered_by) VALUES (%s, 'data') ON CONFLICT DO NOTHING",
            (code,),
        )
        row = conn.execute("SELECT id FROM enterprises WHERE code = %s", (code,)).fetchone()
        assert row is not None
        self._enterprises[code] = row[0]
        return int(row[0])

    def gateway_id(self, conn: psycopg.Connection, enterprise: str, gateway: str) -> int:
        cached = self._gateways.get((enterprise, gateway))
        if cached is not None:
            return cached
        ent_id = self.enterprise_id(conn, enterprise)
        conn.execute(
            "INSERT INTO gateways (enterprise_id, code, registered_by) VALUES (%s, %s, 'data')"
            " ON CONFLICT DO NOTHING",
            (ent_id, gateway),
        )
        row = conn.execute(
            "SELECT id FROM gateways WHERE enterprise_id = %s AND code = %s", (ent_id, gateway)
        ).fetchone()
        assert row is not None
        self._gateways[(enterprise, gateway)] = row[0]
        return int(row[0])

    def stream_base(self, conn: psycopg.Connection, gateway_id: int, stream: str | None) -> int:
        """What to add to this stream's seq in the ledger (see migration 007): 0 for the first
        stream of a gateway, then 2^32 more for each new one. Safe with concurrent workers."""
        if stream is None:
            return 0
        cached = self._streams.get((gateway_id, stream))
        if cached is not None:
            return cached
        for _ in range(10):
            row = conn.execute("SELECT base FROM gateway_streams WHERE gateway_id = %s AND stream = %s",
                               (gateway_id, stream)).fetchone()
            if row is not None:
                self._streams[(gateway_id, stream)] = int(row[0])
                return int(row[0])
            # a concurrent worker may take the same base for another stream: then retry
            # above every stream of the gateway, and above batches stored before it sent
            # stream ids at all (they are base 0)
            conn.execute(
                "INSERT INTO gateway_streams (gateway_id, stream, base)"
                " SELECT %(g)s, %(s)s, greatest("
                "   (SELECT max(base) + 4294967296 FROM gateway_streams WHERE gateway_id = %(g)s),"
                "   (SELECT ((max(seq) >> 32) + 1) << 32 FROM batches WHERE gateway_id = %(g)s),"
                "   0)"
                " ON CONFLICT DO NOTHING",
                {"g": gateway_id, "s": stream},
            )
        raise RuntimeError(f"gateway {gateway_id}: could not register stream {stream!r}")

    def device_ids(
        self, conn: psycopg.Connection, enterprise_id: int, gateway_id: int, codes: Iterable[str]
    ) -> dict[str, int]:
        out: dict[str, int] = {}
        missing = []
        for code in set(codes):
            cached = self._devices.get((enterprise_id, code))
            if cached is None:
                missing.append(code)
            else:
                out[code] = cached
        if missing:
            missing.sort()
            conn.execute(
                "INSERT INTO devices (enterprise_id, gateway_id, code, registered_by)"
                " SELECT %s, %s, c, 'data' FROM unnest(%s::text[]) AS c ORDER BY c ON CONFLICT DO NOTHING",
                (enterprise_id, gateway_id, missing),
            )
            for dev_id, code in conn.execute(
                "SELECT id, code FROM devices WHERE enterprise_id = %s AND code = ANY(%s)",
                (enterprise_id, missing),
            ):
                self._devices[(enterprise_id, code)] = dev_id
                out[code] = dev_id
        return out

    def tag_ids(
        self, conn: psycopg.Connection, enterprise_id: int, gateway_id: int, pairs: set[tuple[str, str]]
    ) -> dict[tuple[str, str], int]:
        """(device, tag) → tag id for the enterprise, registering unknown pairs first.

        Returns the enterprise's whole cache (a superset of ``pairs``): the hot path then looks up
        each sample in one dict without copying it per message.
        """
        known = self._tags.setdefault(enterprise_id, {})
        missing = sorted(pairs - known.keys())
        if not missing:
            return known
        devices = self.device_ids(conn, enterprise_id, gateway_id, (d for d, _ in missing))
        dev_ids = [devices[d] for d, _ in missing]
        names = [t for _, t in missing]
        conn.execute(
            "INSERT INTO tags (device_id, name, registered_by)"
            " SELECT d, n, 'data' FROM unnest(%s::int[], %s::text[]) AS x(d, n) ORDER BY d, n"
            " ON CONFLICT DO NOTHING",
            (dev_ids, names),
        )
        by_dev = {v: k for k, v in devices.items()}
        for tag_id, dev_id, name in conn.execute(
            "SELECT t.id, t.device_id, t.name FROM tags t"
            " JOIN unnest(%s::int[], %s::text[]) AS x(d, n) ON t.device_id = x.d AND t.name = x.n",
            (dev_ids, names),
        ):
            known[(by_dev[dev_id], name)] = tag_id
        return known

    # -- births and deaths ---------------------------------------------------------------

    def apply_birth(self, conn: psycopg.Connection, msg: BirthMessage, *, received_ms: int) -> None:
        info = msg.enterprise_info
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO enterprises (code, name, industry, district) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (code) DO UPDATE SET name = coalesce(EXCLUDED.name, enterprises.name),"
                " industry = coalesce(EXCLUDED.industry, enterprises.industry),"
                " district = coalesce(EXCLUDED.district, enterprises.district),"
                " registered_by = 'birth', updated_at = now() RETURNING id",
                (msg.enterprise, info.name, info.industry, info.district),
            ).fetchone()
            assert row is not None
            ent_id = int(row[0])
            row = conn.execute(
                "INSERT INTO gateways (enterprise_id, code, agent_version, current_session)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (enterprise_id, code) DO UPDATE SET"
                " agent_version = EXCLUDED.agent_version, current_session = EXCLUDED.current_session,"
                " registered_by = 'birth', updated_at = now() RETURNING id",
                (ent_id, msg.gateway, msg.agent_version, msg.session),
            ).fetchone()
            assert row is not None
            gw_id = int(row[0])
            for dev in sorted(msg.devices, key=lambda d: d.id):
                drow = conn.execute(
                    "INSERT INTO devices (enterprise_id, gateway_id, code, profile, protocol, manufacturer,"
                    " model, workshop, line, key_process) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                    " ON CONFLICT (enterprise_id, code) DO UPDATE SET gateway_id = EXCLUDED.gateway_id,"
                    " profile = EXCLUDED.profile, protocol = EXCLUDED.protocol,"
                    " manufacturer = EXCLUDED.manufacturer, model = EXCLUDED.model,"
                    " workshop = EXCLUDED.workshop, line = EXCLUDED.line,"
                    " key_process = EXCLUDED.key_process, registered_by = 'birth', updated_at = now()"
                    " RETURNING id",
                    (ent_id, gw_id, dev.id, dev.profile, dev.protocol, dev.manufacturer, dev.model,
                     dev.workshop, dev.line, dev.key_process),
                ).fetchone()
                assert drow is not None
                dev_id = int(drow[0])
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO tags (device_id, name, data_type, unit, interval_ms, description,"
                        " report_mode, heartbeat_ms, business_links)"
                        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                        " ON CONFLICT (device_id, name) DO UPDATE SET"
                        " data_type = EXCLUDED.data_type, unit = EXCLUDED.unit,"
                        " interval_ms = EXCLUDED.interval_ms, description = EXCLUDED.description,"
                        " report_mode = EXCLUDED.report_mode, heartbeat_ms = EXCLUDED.heartbeat_ms,"
                        " business_links = EXCLUDED.business_links,"
                        " registered_by = 'birth', updated_at = now()",
                        [(dev_id, t.name, t.type, t.unit, t.interval_ms, t.description, t.report,
                          t.heartbeat_ms, list(t.links)) for t in sorted(dev.tags, key=lambda t: t.name)],
                    )
            conn.execute(
                "INSERT INTO gateway_sessions (gateway_id, session, born_at, birth_received_at, next_seq,"
                " agent_version) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (gateway_id, session) DO UPDATE"
                " SET born_at = EXCLUDED.born_at, birth_received_at = EXCLUDED.birth_received_at,"
                " next_seq = EXCLUDED.next_seq, agent_version = EXCLUDED.agent_version",
                (gw_id, msg.session, ms_to_dt(msg.ts), ms_to_dt(received_ms), msg.next_seq,
                 msg.agent_version),
            )
            _event(conn, gw_id, msg.session, "birth", msg.ts, received_ms, None)
        self._enterprises[msg.enterprise] = ent_id
        self._gateways[(msg.enterprise, msg.gateway)] = gw_id

    def apply_death(self, conn: psycopg.Connection, msg: DeathMessage, *, received_ms: int) -> None:
        gw_id = self.gateway_id(conn, msg.enterprise, msg.gateway)
        conn.execute(
            "INSERT INTO gateway_sessions (gateway_id, session, died_at, death_received_at, death_reason)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (gateway_id, session) DO UPDATE SET"
            " died_at = EXCLUDED.died_at, death_received_at = EXCLUDED.death_received_at,"
            " death_reason = EXCLUDED.death_reason",
            (gw_id, msg.session, ms_to_dt(msg.ts), ms_to_dt(received_ms), msg.reason),
        )
        _event(conn, gw_id, msg.session, "death", msg.ts, received_ms, msg.reason)


def _event(conn: psycopg.Connection, gw_id: int, session: str, kind: str, ts_ms: int, received_ms: int,
           reason: str | None) -> None:
    """The online history (gateway_events): gateway_sessions keeps only the latest birth and
    death of a session, and a session is born again after every reconnect."""
    conn.execute(
        "INSERT INTO gateway_events (gateway_id, session, kind, ts, received_at, reason)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
        (gw_id, session, kind, ms_to_dt(ts_ms), ms_to_dt(received_ms), reason),
    )


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True)
