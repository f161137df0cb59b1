"""The command line, as a user meets it: every bad input gives a clear message and the exit code
of common/cli.py (2: bad usage, 1: what it needed failed), never a traceback or a wrong figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloud_ingest import migrate
from cloud_ingest.cli import main
from cloud_ingest.evidence import Figures
from cloud_ingest.evidence.inventory_file import TEMPLATE_HEADER
from tests.cloud_ingest.evidence.conftest import Small

pytestmark = pytest.mark.integration

WINDOW = ["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:10:00Z"]


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args))
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def test_figures_table_and_json(small: Small) -> None:
    code, out, _ = run("evidence", "figures", "--dsn", small.dsn, "-e", small.enterprise, *WINDOW)
    assert code == 0
    assert "设备联网率 networking rate" in out and "不可计算 not computable: no_inventory" in out
    assert "m2" in out and "原因不明 unknown" in out
    code, out, _ = run("evidence", "figures", "--dsn", small.dsn, "-e", small.enterprise, *WINDOW, "--json")
    f = Figures.model_validate_json(out)
    assert code == 0 and f.networking_rate is None and f.not_computable["networking_rate"] == "no_inventory"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-01-01T00:10Z", "--to", "2026-01-01T00:10Z"], "结束时间必须晚于开始时间"),
        (["--from", "2026-01-01T00:10Z", "--to", "2026-01-01T00:05Z"], "--to later than --from"),
        (["--from", "2099-01-01", "--to", "2099-02-01"], "future"),
        (["--from", "yesterday"], "ISO 8601"),
        (["--from", "2026-01-01", "--tz", "Moon/Base"], "time zone"),
    ],
)
def test_bad_windows_exit_2(small: Small, args: list[str], message: str) -> None:
    code, _, err = run("evidence", "figures", "--dsn", small.dsn, "-e", small.enterprise, *args)
    assert code == 2 and message in err and "Traceback" not in err


def test_unknown_enterprise_exits_2_and_lists_known_ones(small: Small) -> None:
    code, _, err = run("evidence", "figures", "--dsn", small.dsn, "-e", "ent-nope", *WINDOW)
    assert code == 2 and "unknown enterprise 'ent-nope'" in err and "ent-small" in err


def test_old_schema_says_migrate(pg_dsn: str) -> None:
    migrate.migrate(pg_dsn, target=8)
    code, _, err = run("evidence", "figures", "--dsn", pg_dsn, "-e", "x", *WINDOW)
    assert code == 1 and "version 8" in err and "cloud-ingest migrate" in err


def _inventory(path: Path, *rows: str, encoding: str = "gbk") -> Path:
    path.write_bytes(("\r\n".join([",".join(TEMPLATE_HEADER), *rows]) + "\r\n").encode(encoding))
    return path


def test_inventory_import_gbk_then_the_rate(small: Small, tmp_path: Path) -> None:
    f = _inventory(
        tmp_path / "设备台账.csv",
        "m1,电表 1,电表,W1,L1,是,是,是,能源管理,是,",
        "m2,电表 2,电表,W1,L1,否,是,是,,是,",
        "press,冲床,冲床,W2,,是,否,否,设备管理,是,",
    )
    code, out, err = run("inventory", "import", "--dsn", small.dsn, "-e", small.enterprise, str(f))
    assert code == 0, err
    assert "imported 3 rows" in out and "gbk" in out
    code, out, _ = run("evidence", "figures", "--dsn", small.dsn, "-e", small.enterprise, *WINDOW, "--json")
    figs = json.loads(out)
    assert (
        figs["networking_rate"] == pytest.approx(2 / 3, abs=1e-6)
        and figs["inventory"]["production_devices"] == 3
    )
    code, out, _ = run("inventory", "show", "--dsn", small.dsn, "-e", small.enterprise)
    assert code == 0 and "冲床" in out


def test_inventory_bad_rows_change_nothing_unless_partial(small: Small, tmp_path: Path) -> None:
    f = _inventory(
        tmp_path / "a.csv",
        "m1,电表 1,电表,W1,L1,是,是,是,,是,",
        "m2,电表 2,电表,W1,L1,或许,是,是,,是,",
        encoding="utf-8",
    )
    code, _, err = run("inventory", "import", "--dsn", small.dsn, "-e", small.enterprise, str(f))
    assert code == 1 and "line 3, key_process" in err and "nothing imported" in err
    code, out, _ = run("inventory", "show", "--dsn", small.dsn, "-e", small.enterprise)
    assert "no inventory yet" in out
    code, out, _ = run("inventory", "import", "--dsn", small.dsn, "-e", small.enterprise, str(f), "--partial")
    assert code == 0 and "imported 1 rows" in out and "line 3" in out
    code, _, err = run(
        "inventory", "import", "--dsn", small.dsn, "-e", small.enterprise, str(f), "--partial", "--replace"
    )
    assert code == 2 and "cannot be combined" in err


def test_inventory_file_problems_exit_2(small: Small, tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"device_code,name\r\n\xff\xfe\x00\x81\x30 caf\xe9\r\n")
    code, _, err = run("inventory", "import", "--dsn", small.dsn, "-e", small.enterprise, str(latin))
    assert code == 2 and "CSV UTF-8" in err and "另存为" in err
    header = tmp_path / "h.csv"
    header.write_text("编码,名称\nA,B\n", encoding="utf-8")
    code, _, err = run("inventory", "import", "--dsn", small.dsn, "-e", small.enterprise, str(header))
    assert code == 2 and "设备编码 device_code" in err
    f = _inventory(tmp_path / "ok.csv", "m1,电表,电表,W1,L1,是,是,是,,是,")
    code, _, err = run("inventory", "import", "--dsn", small.dsn, "-e", "ent-unknown", str(f))
    assert code == 2 and "--create" in err


def test_template(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    code, _, _ = run("inventory", "template", "--xlsx", "--out", str(out))
    assert code == 0 and out.read_bytes().startswith(b"PK")
    code, _, err = run("inventory", "template", "--out", str(out))
    assert code == 2 and "exists" in err
