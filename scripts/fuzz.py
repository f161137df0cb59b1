"""A bounded fuzz run over every decoder and loader that reads what others send: the targets of
tests/hostile/targets.py (JSON wire v1, gzip, Sparkplug B, gateway config, device profiles,
the inventory importer, Modbus register decoding, OPC UA value conversion), each driven by
hypothesis for its share of ``--cases``, with a fixed, printed seed.

    python scripts/fuzz.py --cases 100000 --seed 1      # the long run (minutes; under the lock)
    python scripts/fuzz.py --cases 800 --target gzip    # what the test suite runs, shorter

For each target it prints how many cases ran, how many were accepted and rejected (and the
commonest reasons), the slowest case and the process's peak memory after it (hypothesis's own
bookkeeping included; the product's memory per input is bounded by tests/hostile/test_bombs.py);
for a crash, the smallest input hypothesis found. Exit status 1 when any target crashed. Each
target runs in chunks of 2000 cases, each with its own seed (seed + first case), so a long run
does not keep hypothesis's record of every earlier case.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hypothesis import HealthCheck, Phase, given, reporting, settings
from hypothesis import seed as hypothesis_seed

from tests.hostile.targets import BY_NAME, TARGETS, Target


@dataclass
class Tally:
    target: str
    cases: int = 0
    accepted: int = 0
    rejected: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    slowest_ms: float = 0.0
    peak_rss_mb: float = 0.0
    crash: str | None = None


def _rss_mb() -> float:
    """This process's peak resident memory. Linux's VmHWM first: ru_maxrss can carry the
    parent's peak over a fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


CHUNK = 2000  # cases per hypothesis run: its bookkeeping of every case so far is freed after each


def run_target(target: Target, *, cases: int, seed: int) -> Tally:
    tally = Tally(target.name)
    for first in range(0, cases, CHUNK):
        _run_chunk(target, tally, cases=min(CHUNK, cases - first), seed=seed + first)
        if tally.crash:
            break
    tally.peak_rss_mb = _rss_mb()
    return tally


def _run_chunk(target: Target, tally: Tally, *, cases: int, seed: int) -> None:
    report: list[object] = []

    @hypothesis_seed(seed)
    @settings(max_examples=cases, deadline=None, database=None, report_multiple_bugs=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(target.inputs)
    def one(case: object) -> None:
        started = time.perf_counter()
        out = target.check(case)
        tally.slowest_ms = max(tally.slowest_ms, (time.perf_counter() - started) * 1000)
        tally.cases += 1
        if out.accepted:
            tally.accepted += 1
        else:
            tally.rejected += 1
        tally.reasons[("ok: " if out.accepted else "rejected: ") + out.reason] += 1

    with reporting.with_reporter(report.append):
        try:
            one()
        except Exception as err:  # hypothesis re-raises the smallest failing case
            notes = getattr(err, "__notes__", [])
            tally.crash = "\n".join([f"{type(err).__name__}: {err}", *notes, *map(str, report)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=100_000, help="cases in all, shared by the targets")
    ap.add_argument("--seed", type=int, default=20251129)
    ap.add_argument("--target", action="append", choices=sorted(BY_NAME), help="only these (repeatable)")
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    args = ap.parse_args(argv)
    targets = [BY_NAME[n] for n in args.target] if args.target else list(TARGETS)
    per = max(1, args.cases // len(targets))
    print(f"模糊测试 / fuzz run: {len(targets)} 个目标 / targets × {per} 用例 / cases, "
          f"种子 / seed {args.seed}", flush=True)
    tallies = []
    started = time.monotonic()
    for target in targets:
        t = run_target(target, cases=per, seed=args.seed)
        tallies.append(t)
        top = ", ".join(f"{r} {n}" for r, n in t.reasons.most_common(4))
        print(f"  {t.target:<16} 用例 cases {t.cases:>7}  接受 accepted {t.accepted:>7}  拒绝 rejected "
              f"{t.rejected:>7}  最慢 slowest {t.slowest_ms:8.1f} ms  "
              f"峰值内存 peak RSS {t.peak_rss_mb:6.0f} MB"
              f"  {'崩溃 CRASH' if t.crash else 'ok'}\n      {top}", flush=True)
        if t.crash:
            print("      " + t.crash.replace("\n", "\n      "), flush=True)
    total = sum(t.cases for t in tallies)
    crashed = [t.target for t in tallies if t.crash]
    print(f"共 / total {total} 用例 / cases in {time.monotonic() - started:.0f} s; "
          + (f"崩溃 / crashed: {', '.join(crashed)}" if crashed else "没有崩溃 / no crash"))
    if args.json:
        rows = [{**asdict(t), "reasons": dict(t.reasons.most_common(20))} for t in tallies]
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2))
    return 1 if crashed else 0


if __name__ == "__main__":
    raise SystemExit(main())
