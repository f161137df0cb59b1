"""Evidence figures for one enterprise-month: the product's computation against a plain query over
the raw samples computing the same completeness, in the same run, on the same database.

    python bench/evidence.py [--scale 0.1] [--interval-s 300] [--devices 50] [--tags 30] [--runs 3]

The dataset (bench/evidence_data.py) is written through the product's own write path —
``cloud_ingest.writer.write``, the ledger, binary COPY, counters, per-device counts — directly,
not over MQTT, so that 13 million samples take minutes; then the rollup maintenance runs to its
end, as it does in the service. ``--scale 1`` is the full month (50 devices × 30 tags every 300 s
for 30 days: 12.96 M samples; 50 × 30 tags every 10 s would be 389 M); the default 0.1 is three
days and finishes in about a minute.

- evidence: ``cloud_ingest.evidence.compute`` for the whole window (every figure, not only
  completeness), best of ``--runs``;
- baseline: ``SELECT tag_id, count(*) FILTER (WHERE quality = 0) FROM samples WHERE … GROUP BY
  tag_id`` over the window, and completeness = min(good, expected) ÷ expected per tag, best of
  ``--runs``. The bench checks that both give every tag the same good count and completeness.

- package: one whole ``cloud-ingest evidence build`` of the same window (figures, CSVs, report
  HTML and PDF, signature, log, database, folder; ``cloud_ingest.attest.build.package_seconds``)
  with a throw-away key, then the package checked by its own verifier (``--no-package`` skips it).
  ``--keep-db`` keeps that key beside the database ($TMPDIR/<name>.bench-key) and ``--reuse-db``
  signs with it: each run appends one package to the enterprise's log, whose earlier checkpoints
  only that key can have signed.

The last line is one JSON object: bench, samples, evidence_s, baseline_s, ratio (baseline ÷
evidence), package_s, package_ratio (package_s ÷ evidence_s: what the report, the PDF and the
signature add to the figures), verify_s, and the setup times.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import evidence_data as data  # noqa: E402

from cloud_ingest import migrate  # noqa: E402
from cloud_ingest.attest import keys, source  # noqa: E402
from cloud_ingest.attest import verify_package as verifier  # noqa: E402
from cloud_ingest.attest.build import BuildRequest, package_seconds  # noqa: E402
from cloud_ingest.evidence import compute  # noqa: E402
from cloud_ingest.evidence.inventory_file import Parsed as InventoryFile  # noqa: E402
from cloud_ingest.evidence.inventory_file import Row  # noqa: E402
from cloud_ingest.evidence.inventory_store import store  # noqa: E402


def log(msg: str) -> None:
    print(f"[evidence bench] {msg}", file=sys.stderr, flush=True)


def inventory(shape: data.Shape) -> InventoryFile:
    """Every device the gateways read, plus five production devices with no interface."""
    rows = [
        Row(
            line=i + 2,
            code=f"dev{i:02d}",
            name=f"设备 {i:02d}",
            type="meter",
            workshop=f"W{i % 3 + 1}",
            line_name=f"L{i % 6 + 1}",
            key_process=i % 5 == 0,
            networked=True,
            digital=True,
            production=True,
            links=(),
            notes=None,
        )
        for i in range(shape.devices)
    ]
    rows += [
        Row(
            line=shape.devices + 2 + i,
            code=f"old-{i}",
            name=f"老设备 {i}",
            type="press",
            workshop="W1",
            line_name=None,
            key_process=i == 0,
            networked=False,
            digital=False,
            production=True,
            links=("equipment",),
            notes=None,
        )
        for i in range(5)
    ]
    return InventoryFile(rows=rows, errors=[], encoding="utf-8", sha256="0" * 64)


BASELINE = (
    "SELECT s.tag_id, count(*) FILTER (WHERE s.quality = 0) FROM samples s"
    " WHERE s.tag_id = ANY(%s) AND s.ts >= %s AND s.ts < %s GROUP BY s.tag_id"
)


def baseline(
    conn: psycopg.Connection, tag_ids: list[int], start: datetime, end: datetime, intervals: dict[int, int]
) -> dict[int, tuple[int, float]]:
    """The straightforward way: count every raw sample of the window, per tag."""
    good = dict(conn.execute(BASELINE, (tag_ids, start, end)).fetchall())
    span = (end - start).total_seconds() * 1000
    out = {}
    for t in tag_ids:
        expected = int(span // intervals[t])
        out[t] = (int(good.get(t, 0)), min(good.get(t, 0), expected) / expected)
    return out


def key_dir(name: str) -> Path:
    """Where a kept database's signing key lives between runs: the enterprise's log holds
    checkpoints signed by it, so a later --reuse-db package must be signed by the same key (a new
    key would make the log's previous checkpoint one that no key of the package's keyring signed)."""
    return Path(tempfile.gettempdir()) / f"{name}.bench-key"


def package(dsn: str, start: datetime, end: datetime, *, keep_key: Path | None) -> dict[str, object]:
    """One package build of the window, timed whole, and its verification (in this process);
    ``keep_key``: the folder of a key kept with the database (made on first use), else a
    throw-away key."""
    with tempfile.TemporaryDirectory(prefix="sfg-bench-package-") as tmp:
        key = (keep_key or Path(tmp)) / "signing.key"
        made = not key.exists()
        if made:
            key.parent.mkdir(mode=0o700, exist_ok=True)
            keys.init_key(key)
        out = Path(tmp) / "package"
        req = BuildRequest(enterprise=data.ENTERPRISE, start=start, end=end, out=out, key_file=key,
                           log_name="sfg.bench")
        with psycopg.connect(dsn) as conn:
            package_s = package_seconds(conn, req, figures_source=source.figures_from_database)
        t = time.perf_counter()
        res = verifier.verify_package(verifier.read_dir(out))
        verify_s = time.perf_counter() - t
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        pdf = (out / "report" / "report.pdf").stat().st_size
    log(f"package built in {package_s:.2f} s ({size / 1e6:.1f} MB, PDF {pdf / 1e6:.1f} MB), "
        f"verified in {verify_s:.2f} s")
    if res.failed:
        gone = (f" (a new key signed it: the run that kept this database left no key in {keep_key},"
                " so the log's earlier checkpoints are signed by a key that is gone)"
                if keep_key is not None and made else "")
        raise SystemExit(f"the package built in {package_s:.2f} s does not verify: {res.failed}{gone}")
    return {"package_s": round(package_s, 3), "verify_s": round(verify_s, 3),
            "package_bytes": size, "pdf_bytes": pdf}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.1, help="fraction of the 30-day month (1 = full size)")
    ap.add_argument("--interval-s", type=int, default=300)
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--tags", type=int, default=30)
    ap.add_argument("--writers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--keep-db", action="store_true",
                    help="leave the database (its name is logged) and the signing key of its log"
                    " (in $TMPDIR/<name>.bench-key, which a --reuse-db run signs with)")
    ap.add_argument("--reuse-db", default=None, help="measure again on a database a --keep-db run left")
    ap.add_argument("--no-package", action="store_true", help="skip the package build (package_s)")
    args = ap.parse_args()
    shape = data.Shape(days=30 * args.scale, devices=args.devices, tags=args.tags, interval_s=args.interval_s)
    name = args.reuse_db or f"sfg_bench_evidence_{uuid.uuid4().hex[:8]}"
    dsn = args.admin_dsn.rpartition("/")[0] + "/" + name
    if not args.reuse_db:
        with psycopg.connect(args.admin_dsn, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        if args.reuse_db:
            applied = migrate.migrate(dsn)  # a database an older version left: upgraded in place
            if applied:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE")  # as after a build: index-only scans need it
                log(f"migrated {name}: {applied}")
            with psycopg.connect(dsn) as conn:
                row = conn.execute(
                    "SELECT (SELECT coalesce(sum(n_samples), 0) FROM batches),"
                    " (SELECT count(*) FROM batches)"
                ).fetchone()
            assert row is not None
            stats, setup_s = {"samples": int(row[0]), "batches": int(row[1])}, 0.0
            log(f"reusing {name}: {stats}")
        else:
            migrate.migrate(dsn)
            log(f"writing {shape.samples:,} samples ({shape.days:g} days, {shape.devices} devices x"
                f" {shape.tags} tags every {shape.interval_s} s) through the write path into {name}")
            t = time.perf_counter()
            stats = data.build(dsn, shape, writers=args.writers)
            setup_s = time.perf_counter() - t
            log(f"written and rolled up in {setup_s:.0f} s: {stats}")
        start = datetime.fromtimestamp(shape.t0 / 1000, tz=UTC)
        end = datetime.fromtimestamp(shape.end / 1000, tz=UTC)
        with psycopg.connect(dsn, autocommit=True) as conn:
            store(
                conn,
                data.ENTERPRISE,
                inventory(shape),
                source="bench",
                partial=False,
                replace=True,
                by="bench",
            )
            tags = conn.execute("SELECT id, interval_ms FROM tags ORDER BY id").fetchall()
            intervals = {int(i): int(ms) for i, ms in tags}
            names = {
                int(i): (d, n)
                for i, d, n in conn.execute(
                    "SELECT t.id, d.code, t.name FROM tags t JOIN devices d ON d.id = t.device_id"
                )
            }
            ev_times, base_times = [], []
            figures = None
            raw: dict[int, tuple[int, float]] = {}
            for run in range(args.runs):  # interleaved, best of each (the machine is shared)
                t = time.perf_counter()
                figures = compute(conn, data.ENTERPRISE, start=start, end=end)
                ev_times.append(time.perf_counter() - t)
                t = time.perf_counter()
                raw = baseline(conn, list(intervals), start, end, intervals)
                base_times.append(time.perf_counter() - t)
                log(f"run {run + 1}: evidence {ev_times[-1]:.2f} s, baseline {base_times[-1]:.2f} s")
        assert figures is not None
        by_name = {(t.device, t.tag): t for t in figures.tags}
        mismatches = [
            (names[i], g, c, by_name[names[i]].good, by_name[names[i]].completeness)
            for i, (g, c) in raw.items()
            if by_name[names[i]].good != g or abs((by_name[names[i]].completeness or 0) - c) > 1e-6
        ]
        if mismatches:
            raise SystemExit(
                f"the evidence and the raw count disagree on {len(mismatches)} tags: {mismatches[:5]}"
            )
        causes: dict[str, int] = {}
        for d in figures.devices:
            for g in d.gaps:
                causes[g.cause] = causes.get(g.cause, 0) + 1
        evidence_s, baseline_s = min(ev_times), min(base_times)
        result = {
            "bench": "evidence",
            "samples": stats["samples"],
            "days": shape.days,
            "devices": shape.devices,
            "tags_per_device": shape.tags,
            "interval_s": shape.interval_s,
            "batches": stats["batches"],
            "evidence_s": round(evidence_s, 3),
            "baseline_s": round(baseline_s, 3),
            "ratio": round(baseline_s / evidence_s, 2),
            "evidence_runs_s": [round(x, 3) for x in ev_times],
            "baseline_runs_s": [round(x, 3) for x in base_times],
            "setup_s": round(setup_s, 1),
            "tags_checked": len(raw),
            "networking_rate": figures.networking_rate,
            "gap_causes": causes,
            "dropped": figures.reconciliation[0].dropped if figures.reconciliation else {},
            "unexplained": sum(r.unexplained for r in figures.reconciliation),
        }
        if not args.no_package:
            kept = key_dir(name) if args.keep_db or args.reuse_db else None
            built = package(dsn, start, end, keep_key=kept)
            result.update(built, package_ratio=round(float(built["package_s"]) / evidence_s, 2))
        print(json.dumps(result))
    finally:
        if not args.keep_db and not args.reuse_db:
            with psycopg.connect(args.admin_dsn, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


if __name__ == "__main__":
    main()
