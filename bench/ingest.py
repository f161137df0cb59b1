"""Cloud ingest throughput: the write path and the whole MQTT path, against `psql \\copy`.

    python bench/ingest.py [--rows 500000] [--rounds 2] [--tags 1000] [--gateways 4] [--workers 1]
                           [--writers 4] [--group 20] [--batch 1000]

Three measurements of the same rows, each into a fresh database, interleaved over ``--rounds``
rounds; the best run of each is kept (the machine is shared, so a single run of either side
can be unlucky; the same rule applies to the reference and to the product):

- reference: ``psql \\copy … (FORMAT binary)`` of (ts, tag_id, value, quality) into a table with
  primary key (tag_id, ts): the plain, correct schema loaded at the database's own speed.
- write path: validated data messages (``DataBatch``, as ``decode`` makes them) →
  ``cloud_ingest.writer.write`` (ledger + binary COPY + counters, the service's grouping and
  writer threads) → committed rows.
- whole path: JSON messages published at QoS 1 through the real broker → ``cloud-ingest serve``
  process(es) (shared subscription) → committed rows, timed from the first publish until the
  ledger holds every batch.

The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud_ingest import migrate, writer
from cloud_ingest.batch import DataBatch
from cloud_ingest.partitions import Partitions
from cloud_ingest.registry import Registry

PG_EPOCH_MS = 946_684_800_000


def log(msg: str) -> None:
    print(f"[ingest bench] {msg}", file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------


def make_payloads(ent: str, *, rows: int, tags: int, gateways: int, per_batch: int, t0: int) -> list[bytes]:
    """Time-ordered JSON data messages: every tag once per second, each gateway owning tags/gateways
    tags (10 per device), gateways interleaved as they would be on a shared broker."""
    per_gw = tags // gateways
    seconds = -(-rows // tags)
    streams: list[list[bytes]] = []
    for g in range(gateways):
        samples: list[str] = []
        for sec in range(seconds):
            ts = t0 + sec * 1000
            for j in range(per_gw):
                tag = g * per_gw + j
                samples.append(
                    f'{{"d":"dev{tag // 10:05d}","t":"t{tag % 10}","ts":{ts},"rt":{ts + 7},'
                    f'"v":{(tag * 7 + sec) % 1000 + 0.5},"q":"good"}}'
                )
        samples = samples[: rows // gateways]
        msgs = []
        for seq, i in enumerate(range(0, len(samples), per_batch), start=1):
            body = ",".join(samples[i : i + per_batch])
            msgs.append(
                f'{{"v":1,"type":"data","enterprise":"{ent}","gateway":"gw{g}","session":"bench",'
                f'"seq":{seq},"sent":{t0},"samples":[{body}]}}'.encode()
            )
        streams.append(msgs)
    out = []
    for i in range(max(len(s) for s in streams)):
        out.extend(s[i] for s in streams if i < len(s))
    return out


def reference_file(payloads: list[bytes], path: Path, *, tag_ids: dict[tuple[str, str], int]) -> int:
    """The same rows as PostgreSQL binary COPY data: (ts, tag_id, value, quality)."""
    n = 0
    row = struct.Struct("!hiqiiidih")
    with path.open("wb") as f:
        f.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0))
        for p in payloads:
            for s in json.loads(p)["samples"]:
                f.write(row.pack(4, 8, (s["ts"] - PG_EPOCH_MS) * 1000, 4, tag_ids[(s["d"], s["t"])],
                                 8, s["v"], 2, 0))
                n += 1
        f.write(struct.pack("!h", -1))
    return n


# -- databases -------------------------------------------------------------------------------


class Databases:
    def __init__(self, admin_dsn: str) -> None:
        self.admin = admin_dsn
        self.made: list[str] = []

    def fresh(self) -> str:
        name = f"sfg_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        self.made.append(name)
        return self.admin.rpartition("/")[0] + "/" + name

    def drop(self, dsn: str) -> None:
        name = dsn.rpartition("/")[2]
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
        self.made.remove(name)

    def drop_all(self) -> None:
        with psycopg.connect(self.admin, autocommit=True) as conn:
            for name in self.made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def prepare_ingest_db(dsn: str, *, t0: int, rows: int, tags: int) -> None:
    """Schema plus the partitions the data needs, so no run pays for DDL the others do not."""
    migrate.migrate(dsn)
    with psycopg.connect(dsn, autocommit=True) as conn:
        last = t0 + (rows // tags + 1) * 1000
        for day in range(t0 // 86_400_000, last // 86_400_000 + 1):
            conn.execute("SELECT sfg_ensure_day_partition(date '1970-01-01' + %s)", (day,))


def run_reference(dsn: str, data_file: Path) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS ref")
        conn.execute("CREATE TABLE ref (ts timestamptz, tag_id int, value double precision,"
                     " quality smallint, PRIMARY KEY (tag_id, ts))")
        conn.execute("CHECKPOINT")
    start = time.perf_counter()
    subprocess.run(["psql", dsn, "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    f"\\copy ref FROM '{data_file}' (FORMAT binary)"], check=True)
    return time.perf_counter() - start


# -- write path ------------------------------------------------------------------------------


def run_write_path(dsn: str, payloads: list[bytes], *, writers: int, group: int) -> float:
    msgs = [DataBatch.from_json(p) for p in payloads]  # decoded as the service decodes them
    gc.collect()
    gc.freeze()  # a million live bench objects would otherwise make every GC pass crawl
    work = [msgs[i : i + group] for i in range(0, len(msgs), group)]
    work.reverse()
    lock = threading.Lock()
    conns = [psycopg.connect(dsn, autocommit=True) for _ in range(writers)]
    conns[0].execute("CHECKPOINT")

    def run(conn: psycopg.Connection) -> None:
        reg, parts = Registry(), Partitions(flavor="plain")
        parts.load(conn)
        while True:
            with lock:
                if not work:
                    return
                grp = work.pop()
            writer.write(conn, [writer.Inbound(m, 0) for m in grp], registry=reg, partitions=parts)

    threads = [threading.Thread(target=run, args=(c,)) for c in conns]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    for c in conns:
        c.close()
    msgs.clear()
    gc.unfreeze()
    gc.collect()
    return elapsed


# -- whole path ------------------------------------------------------------------------------


def clear_sessions(host: str, port: int, client_ids: list[str]) -> None:
    """Leave no persistent sessions behind on the shared broker."""
    for cid in client_ids:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 0
        try:
            c.connect(host, port, clean_start=True, properties=props)
            c.loop_start()
            time.sleep(0.2)
            c.disconnect()
            c.loop_stop()
        except OSError:
            pass


def run_whole_path(dsn: str, payloads: list[bytes], *, ent: str, host: str, port: int, workers: int,
                   writers: int, tmp: Path) -> float:
    ids = [f"bench-ingest-{ent}-{i}" for i in range(workers)]
    procs = []
    exe = shutil.which("cloud-ingest", path=str(Path(sys.executable).parent)) or "cloud-ingest"
    for i, cid in enumerate(ids):
        cfg = tmp / f"cloud-{i}.yaml"
        cfg.write_text(json.dumps({
            "database": {"dsn": dsn},
            "mqtt": {"host": host, "port": port, "client_id": cid, "topic_filter": f"shopfloor/v1/{ent}/+/+",
                     "shared_group": f"bench-{ent}", "session_expiry_s": 300, "max_inflight": 100},
            "ingest": {"writers": writers, "rollup_interval_s": 5},
        }))
        err = (tmp / f"worker-{i}.log").open("wb")
        procs.append((subprocess.Popen([exe, "serve", "--no-api", "--config", str(cfg)],
                                       stderr=err, stdout=subprocess.DEVNULL), err))
    try:
        deadline = time.monotonic() + 30
        while not all("consuming" in (tmp / f"worker-{i}.log").read_text() for i in range(workers)):
            if time.monotonic() > deadline or any(p.poll() is not None for p, _ in procs):
                raise RuntimeError("workers did not start; see their logs in " + str(tmp))
            time.sleep(0.1)
        stored = [0]
        total = len(payloads)
        done = threading.Event()

        def watch() -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                while not done.is_set():
                    row = conn.execute("SELECT count(*), (SELECT count(*) FROM dead_letters) FROM batches"
                                       ).fetchone()
                    stored[0] = int(row[0]) if row else 0
                    if stored[0] >= total or (row and row[1]):
                        done.set()
                        return
                    time.sleep(0.05)

        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{ent}")
        pub.max_inflight_messages_set(100)
        pub.connect(host, port)
        pub.loop_start()
        topic = f"shopfloor/v1/{ent}/%s/data"
        # stay within the broker's per-client queue (mosquitto's default max_queued_messages 1000)
        window = 600 * workers
        start = time.perf_counter()
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        infos = []
        for i, p in enumerate(payloads):
            while i - stored[0] > window and not done.is_set():
                time.sleep(0.005)
            gw = p[p.index(b'"gateway":"') + 11 : p.index(b'","session"')].decode()
            infos.append(pub.publish(topic % gw, p, qos=1))
        if not done.wait(600):
            raise RuntimeError(f"only {stored[0]} of {total} batches stored after 600 s")
        elapsed = time.perf_counter() - start
        pub.disconnect()
        pub.loop_stop()
        assert all(i.is_published() for i in infos)
        return elapsed
    finally:
        for p, _ in procs:
            p.terminate()
        for p, err in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
            err.close()
        clear_sessions(host, port, ids)


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each is kept")
    ap.add_argument("--tags", type=int, default=1000)
    ap.add_argument("--gateways", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000, help="samples per data message")
    ap.add_argument("--group", type=int, default=20, help="messages per transaction (write path)")
    ap.add_argument("--writers", type=int, default=4, help="writer threads per worker")
    ap.add_argument("--workers", type=int, default=1, help="cloud-ingest serve processes (whole path)")
    ap.add_argument("--pg", default=os.environ.get("SFG_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--mqtt-host", default="127.0.0.1")
    ap.add_argument("--mqtt-port", type=int, default=1883)
    args = ap.parse_args()

    ent = f"bench-{uuid.uuid4().hex[:8]}"
    t0 = (time.time_ns() // 1_000_000 // 86_400_000 - 1) * 86_400_000 + 3_600_000  # yesterday 01:00 UTC
    log(f"generating {args.rows} rows over {args.tags} tags, {args.batch} per message")
    payloads = make_payloads(ent, rows=args.rows, tags=args.tags, gateways=args.gateways,
                             per_batch=args.batch, t0=t0)
    rows = sum(p.count(b'"d":') for p in payloads)
    dbs = Databases(args.pg)
    tmp = Path(tempfile.mkdtemp(prefix="sfg-bench-ingest-"))
    ref_runs: list[float] = []
    write_runs: list[float] = []
    whole_runs: list[float] = []
    try:
        ref_dsn = dbs.fresh()
        data_file = tmp / "rows.bin"
        tag_ids = {(f"dev{t // 10:05d}", f"t{t % 10}"): t + 1 for t in range(args.tags)}
        reference_file(payloads, data_file, tag_ids=tag_ids)
        for rnd in range(1, args.rounds + 1):
            ref_runs.append(rows / run_reference(ref_dsn, data_file))
            log(f"round {rnd}: reference (psql \\copy binary, primary key (tag_id, ts)) "
                f"{ref_runs[-1]:,.0f} rows/s")

            write_dsn = dbs.fresh()
            prepare_ingest_db(write_dsn, t0=t0, rows=args.rows, tags=args.tags)
            elapsed = run_write_path(write_dsn, payloads, writers=args.writers, group=args.group)
            write_runs.append(rows / elapsed)
            with psycopg.connect(write_dsn) as conn:
                stored = conn.execute("SELECT count(*) FROM samples").fetchone()
            assert stored is not None and stored[0] == rows, f"write path stored {stored} of {rows}"
            dbs.drop(write_dsn)
            log(f"round {rnd}: write path ({args.writers} writers, {args.group} messages per transaction) "
                f"{write_runs[-1]:,.0f} rows/s")

            whole_dsn = dbs.fresh()
            prepare_ingest_db(whole_dsn, t0=t0, rows=args.rows, tags=args.tags)
            whole = run_whole_path(whole_dsn, payloads, ent=ent, host=args.mqtt_host,
                                   port=args.mqtt_port, workers=args.workers, writers=args.writers, tmp=tmp)
            with psycopg.connect(whole_dsn) as conn:
                got = conn.execute("SELECT count(*) FROM samples").fetchone()
                dead = conn.execute("SELECT count(*) FROM dead_letters").fetchone()
            assert got is not None and got[0] == rows, f"whole path stored {got} of {rows}"
            assert dead == (0,), f"dead letters: {dead}"
            dbs.drop(whole_dsn)
            whole_runs.append(rows / whole)
            log(f"round {rnd}: whole path (MQTT {args.mqtt_host}:{args.mqtt_port} -> {args.workers} "
                f"worker(s) x {args.writers} writers) {whole_runs[-1]:,.0f} rows/s")
    finally:
        dbs.drop_all()
        shutil.rmtree(tmp, ignore_errors=True)

    ref_rate, write_rate, whole_rate = max(ref_runs), max(write_runs), max(whole_runs)
    result = {
        "bench": "ingest",
        "rows": rows,
        "messages": len(payloads),
        "rounds": args.rounds,
        "write_rows_per_s": round(write_rate),
        "whole_rows_per_s": round(whole_rate),
        "reference_rows_per_s": round(ref_rate),
        "write_ratio": round(write_rate / ref_rate, 3),
        "whole_ratio": round(whole_rate / ref_rate, 3),
        "reference_runs_rows_per_s": [round(r) for r in ref_runs],
        "write_runs_rows_per_s": [round(r) for r in write_runs],
        "whole_runs_rows_per_s": [round(r) for r in whole_runs],
        "writers": args.writers,
        "workers": args.workers,
        "samples_per_message": args.batch,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
