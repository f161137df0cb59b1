"""Evidence packages end to end: data through the real path (device-sim → edge-agent → Mosquitto
→ cloud-ingest → PostgreSQL), an inventory imported, then `cloud-ingest keys init` and
`cloud-ingest evidence build` as an operator runs them, and the package checked the way a reviewer
checks it: the verify_package.py it ships, on a Python with nothing but the standard library and
`cryptography`, in a folder outside the repository. Its recomputed figures must equal the
package's figures.json, and every kind of tampering must fail with a message naming it, Chinese
first."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from cloud_ingest.attest import envelope
from cloud_ingest.attest import verify_package as v
from cloud_ingest.attest.keys import load_signer, public_pem
from tests.cloud_ingest.attest.offline import only_cryptography, run_offline
from tests.cloud_ingest.evidence.e2e_helpers import (
    Sim,
    dt_of,
    figures_cli,
    first_last,
    import_inventory,
    inventory_row,
    now_ms,
    two_meters,
    wait_both_meters,
)
from tests.e2e.harness import BIN, stack
from tests.support import free_port

pytestmark = pytest.mark.e2e

INTERVAL = 200


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "cloud-ingest"), *args], capture_output=True, text=True, timeout=180, check=False
    )


def build(config: Path, enterprise: str, start: int, end: int, out: Path) -> subprocess.CompletedProcess[str]:
    return cli(
        "evidence",
        "build",
        "--config",
        str(config),
        "--enterprise",
        enterprise,
        "--from",
        dt_of(start).isoformat(),
        "--to",
        dt_of(end).isoformat(),
        "--out",
        str(out),
    )


class Reviewer:
    """The reviewer's laptop: a bare Python, a folder of their own, the shipped verifier."""

    def __init__(self, tmp: Path) -> None:
        self.home = tmp / "reviewer"
        self.home.mkdir()
        self.lib = only_cryptography(self.home)
        self.runs = 0

    def verify(self, package: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        self.runs += 1
        report = self.home / f"result-{self.runs}.json"
        out = run_offline(
            self.lib,
            str(package / "verify_package.py"),
            str(package),
            *args,
            "--json",
            str(report),
            cwd=self.home,
        )
        return out, json.loads(report.read_text(encoding="utf-8")) if report.exists() else {}

    def copy(self, package: Path, name: str) -> Path:
        return Path(shutil.copytree(package, self.home / name))


def same(recomputed: Any, claimed: Any, path: str = "") -> list[str]:
    """Where the recomputed figures differ from figures.json (ratios to their 6 digits)."""
    if isinstance(recomputed, dict):
        assert isinstance(claimed, dict), path
        return [m for k, v in recomputed.items() for m in same(v, claimed[k], f"{path}.{k}")]
    if isinstance(recomputed, list) and recomputed and isinstance(recomputed[0], dict):
        ident = next(k for k in ("device", "key", "gateway") if k in recomputed[0])
        theirs = {c[ident]: c for c in claimed}
        assert set(theirs) >= {r[ident] for r in recomputed}, path
        return [m for r in recomputed for m in same(r, theirs[r[ident]], f"{path}[{r[ident]}]")]
    if isinstance(recomputed, float) and not isinstance(claimed, bool):
        ok = claimed is not None and recomputed == pytest.approx(claimed, abs=2e-6)
    else:
        ok = recomputed == claimed
    return [] if ok else [f"{path}: recomputed {recomputed!r}, figures.json {claimed!r}"]


def failed(result: dict[str, Any]) -> str:
    return "\n".join(result.get("failed") or [])


def test_a_package_of_real_data_verifies_offline_and_every_tampering_fails(
    tmp_path: Path, pg_dsn: str, uid: str
) -> None:
    p_on, p_off = free_port(), free_port()
    with stack(tmp_path, uid=uid, dsn=pg_dsn) as s:
        sim = Sim(s, f"energy_meter_3ph@{p_on}", f"energy_meter_3ph@{p_off}")
        config = s.cloud_config()
        cfg = yaml.safe_load(config.read_text())
        cfg["signing"] = {"key_file": str(tmp_path / "keys" / "signing.key"), "log_name": "sfg.e2e"}
        config.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        ingest = s.ingest(config)
        agent = s.agent(
            s.gateway_config(two_meters(p_on, p_off, interval_ms=INTERVAL))
        )
        wait_both_meters(s)
        time.sleep(3)
        sim.command(f"down {p_off}")  # a gap with a cause
        time.sleep(5)
        sim.command(f"up {p_off}")
        up_at = now_ms()
        s.wait("meter-off read again", lambda: any(t > up_at for t in sim.served(p_off)), timeout=40)
        time.sleep(3)
        end = now_ms() - 1000
        assert agent.terminate() == 0, s.logs()
        import_inventory(
            config,
            s.enterprise,
            [
                inventory_row("meter-on", key=True, links="能源管理"),
                inventory_row("meter-off"),
                inventory_row("press-03", networked=False, key=True, links="设备管理"),
            ],
            tmp_path / "台账.csv",
        )
        start = first_last(pg_dsn, s.gateway, "meter-off")[0] + 1000

        # the operator: no key yet → told how to make one; then keys init and three builds
        out = tmp_path / "out"
        r = build(config, s.enterprise, start, end, out / "p0")
        assert r.returncode != 0 and "keys init" in r.stdout + r.stderr, r.stdout + r.stderr
        r = cli("keys", "init", "--config", str(config))
        assert r.returncode == 0, r.stdout + r.stderr
        pkgs = []
        for n in (1, 2, 3):  # the same window each time: a new package, a new sequence
            r = build(config, s.enterprise, start, end, out / f"p{n}")
            assert r.returncode == 0, r.stdout + r.stderr
            assert f"序号 sequence {n}" in r.stdout
            pkgs.append(out / f"p{n}")
        again = build(config, s.enterprise, start, end, out / "p3")
        assert again.returncode != 0 and "--force" in again.stdout + again.stderr
        p1, p2, p3 = pkgs
        direct = figures_cli(config, s.enterprise, start, end)
        reviewer = Reviewer(tmp_path)

        # 1. untouched: verifies, and its figures recompute from its CSVs to figures.json
        res, report = reviewer.verify(
            p3, "--previous", str(p2), "--checkpoint", str(p1 / "log" / "checkpoint.txt")
        )
        assert res.returncode == 0, res.stdout + res.stderr
        assert "校验通过 VERIFIED" in res.stdout and report["verified"] is True
        figures = json.loads((p3 / "data" / "figures.json").read_text(encoding="utf-8"))
        assert same(report["recomputed"], figures) == []
        rec = report["recomputed"]
        assert rec["networking_rate"] == figures["networking_rate"] == pytest.approx(2 / 3, abs=1e-6)
        assert rec["inventory"]["production_devices"] == 3 and rec["inventory"]["delivering_devices"] == 2
        assert rec["key_process_rate"] == figures["key_process_rate"]
        assert rec["business_links"]["covered"] == figures["business_links"]["covered"] >= 1
        off = next(d for d in figures["devices"] if d["device"] == "meter-off")
        assert [g["cause"] for g in off["gaps"]] == ["device_offline"]
        assert next(d for d in rec["devices"] if d["device"] == "meter-off")["completeness"] == pytest.approx(
            off["completeness"], abs=2e-6
        )
        # the package holds the figures the product computes for that window (the JSON contract)
        assert {k: v for k, v in figures.items() if k != "generated_at"} == {
            k: v for k, v in direct.items() if k != "generated_at"
        }
        assert (p3 / "data" / "gaps.csv").read_text(encoding="utf-8-sig").count("device_offline") == 1
        # the report: Chinese text extractable from the PDF, the figures in it
        text = subprocess.run(
            ["pdftotext", "-layout", str(p3 / "report" / "report.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for needle in ("数据贯通证据报告", "设备联网率", "meter-off", "press-03", "设备离线", "66.7%"):
            assert needle in text, needle
        html = (p3 / "report" / "report.html").read_text(encoding="utf-8")
        assert "meter-off" in html and "<svg" in html and "<script" not in html

        # 2. an edited CSV
        bad = reviewer.copy(p3, "csv")
        f = bad / "data" / "devices.csv"
        f.write_bytes(f.read_bytes().replace(b"meter-off", b"meter-0ff", 1))
        res, report = reviewer.verify(bad)
        assert res.returncode == 1 and report["verified"] is False
        assert "data/devices.csv: 文件内容与签名记录的摘要不符" in res.stdout
        assert "sha256 differs from the signed digest" in failed(report)

        # 3. an edited figures JSON (a better networking rate)
        bad = reviewer.copy(p3, "json")
        f = bad / "data" / "figures.json"
        doc = json.loads(f.read_text(encoding="utf-8"))
        doc["networking_rate"] = 1.0
        f.write_text(json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        res, report = reviewer.verify(bad)
        assert res.returncode == 1
        assert "data/figures.json: 文件内容与签名记录的摘要不符" in res.stdout

        # 4. an edited report
        bad = reviewer.copy(p3, "report")
        f = bad / "report" / "report.html"
        f.write_text(f.read_text(encoding="utf-8").replace("66.7%", "96.7%"), encoding="utf-8")
        res, _report = reviewer.verify(bad)
        assert res.returncode == 1
        assert "report/report.html: 文件内容与签名记录的摘要不符" in res.stdout

        # 5. a package deleted from the chain the reviewer holds: package 3 after package 1
        res, report = reviewer.verify(p3, "--previous", str(p1))
        assert res.returncode == 1
        assert "--previous: 证据链断开" in res.stdout and "package 2 is missing" in res.stdout

        # 6. signed by a key the reviewer does not trust
        stranger = tmp_path / "stranger.key"
        stranger_cfg = tmp_path / "stranger.yaml"
        cfg["signing"]["key_file"] = str(stranger)
        stranger_cfg.write_text(yaml.safe_dump(cfg, allow_unicode=True))
        assert cli("keys", "init", "--config", str(stranger_cfg)).returncode == 0
        trusted = reviewer.home / "trusted.pub"
        shutil.copy(p1 / "keys" / "signing-key.pub", trusted)
        forged = reviewer.copy(p3, "forged")  # the stranger re-signs a copy of package 3 by hand
        resign(forged, stranger)
        res, _report = reviewer.verify(forged, "--key", str(trusted))
        assert res.returncode == 1 and "签名公钥不被信任" in res.stdout and "an unknown key" in res.stdout

        # 7. the operator deletes package 3 from the database (triggers off, as a superuser could)
        #    and issues another as number 3: the reviewer's kept checkpoint shows the rewrite
        kept = reviewer.home / "checkpoint-3.txt"
        shutil.copy(p3 / "log" / "checkpoint.txt", kept)
        erase_last_package(pg_dsn, s.enterprise)
        r = build(config, s.enterprise, start, end - 500, out / "p3-again")
        assert r.returncode == 0 and "序号 sequence 3" in r.stdout, r.stdout + r.stderr
        res, _report = reviewer.verify(out / "p3-again", "--checkpoint", str(kept))
        assert res.returncode == 1
        assert "--checkpoint: 日志被改写" in res.stdout and "the log was rewritten" in res.stdout

        # 8. a window with no data is a package that says so, and verifies
        r = build(config, s.enterprise, start - 3_600_000, start - 1_800_000, out / "p-empty")
        assert r.returncode == 0 and "序号 sequence 4" in r.stdout, r.stdout + r.stderr
        res, report = reviewer.verify(out / "p-empty")
        assert res.returncode == 0, res.stdout
        empty = json.loads((out / "p-empty" / "data" / "figures.json").read_text(encoding="utf-8"))
        assert same(report["recomputed"], empty) == []
        assert all(d["samples_stored"] == 0 for d in empty["devices"])
        text = subprocess.run(
            ["pdftotext", str(out / "p-empty" / "report" / "report.pdf"), "-"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        assert "本时段没有收到任何数据" in text and "No data was received" in text
        ingest.terminate()


def resign(folder: Path, key_file: Path) -> None:
    """A forger's re-signing of an edited package: the statement re-made and signed by their key."""
    key, _ring = load_signer(key_file)
    env = json.loads((folder / "evidence.dsse.json").read_bytes())
    statement = json.loads(base64.b64decode(env["payload"]))
    (folder / "keys" / "signing-key.pub").write_text(public_pem(key.public_key()))
    files = {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).parts[0] != "log" and p.name != "evidence.dsse.json"
    }
    pred = statement["predicate"]
    pred["key_id"] = v.key_id(key.public_key())
    (folder / "evidence.dsse.json").write_bytes(
        envelope.sign_envelope(envelope.statement(files, pred), key=key)
    )


def erase_last_package(dsn: str, enterprise: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("SET session_replication_role = replica")  # append-only triggers off
        ent = conn.execute("SELECT id FROM enterprises WHERE code = %s", (enterprise,)).fetchone()
        assert ent is not None
        top = conn.execute(
            "SELECT max(sequence) FROM evidence_packages WHERE enterprise_id = %s", (ent[0],)
        ).fetchone()
        assert top is not None
        for table, col in (
            ("evidence_packages", "sequence"),
            ("evidence_log_leaves", "sequence"),
            ("evidence_checkpoints", "tree_size"),
        ):
            conn.execute(f"DELETE FROM {table} WHERE enterprise_id = %s AND {col} = %s", (ent[0], top[0]))
