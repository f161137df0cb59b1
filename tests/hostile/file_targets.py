"""Hostile-input targets that are files: the gateway config, device profiles, the inventory."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.hostile.base import Crash, Outcome, mutated, reason_of
from tests.support import ROOT

# -- config and profile loaders (common.config_files) -----------------------------------------

_SCRATCH = Path(tempfile.mkdtemp(prefix="sfg-hostile-"))
GATEWAY_EXAMPLE = yaml.safe_load((ROOT / "examples" / "gateway.yaml").read_text(encoding="utf-8"))
PROFILE_EXAMPLE = yaml.safe_load(
    (ROOT / "device_profiles" / "library" / "modbus" / "energy_meter_3ph.yaml").read_text(encoding="utf-8"))


def alias_bomb(levels: int, width: int) -> str:
    """YAML whose aliases expand to ``width ** levels`` strings (a "billion laughs")."""
    lines = ["a0: &a0 [x]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return "\n".join(lines) + f"\ndevices: *a{levels}\n"


@st.composite
def yaml_texts(draw: st.DrawFn, example: Any) -> str:
    how = draw(st.integers(0, 11))
    if how == 0:
        return draw(st.text(max_size=200))
    if how == 1:
        return alias_bomb(draw(st.integers(1, 9)), draw(st.integers(2, 10)))
    if how == 2:
        depth = draw(st.integers(1, 5000))
        return "devices: " + "[" * depth + "]" * depth * draw(st.integers(0, 1))
    if how == 3:
        return "a: &a [*a]\ndevices: *a\n"
    return yaml.safe_dump(draw(mutated(example)), allow_unicode=True)


def loader_check(load: Callable[[Path], Any], name: str) -> Callable[[str], Outcome]:
    from common.config_files import ConfigError

    def check(text: str) -> Outcome:
        path = _SCRATCH / name
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load(path)
        except ConfigError as err:
            if not err.problems:
                raise Crash(f"{name}: a ConfigError without problems") from err
            for problem in err.problems:
                reason_of(problem, name)
            return Outcome(False, "ConfigError")
        return Outcome(True, "loaded")
    return check


def load_gateway(path: Path) -> Any:
    from edge_agent.config import load_gateway_config

    return load_gateway_config(path)


def load_profile(path: Path) -> Any:
    from device_profiles.loader import load_profile

    return load_profile(path)


# -- the inventory importer (cloud_ingest.evidence.inventory_file) ----------------------------

_HEADER = (ROOT / "examples" / "inventory-template.csv").read_text(encoding="utf-8-sig").splitlines()


@functools.cache
def _template_xlsx() -> bytes:
    from cloud_ingest.evidence.inventory_file import template_xlsx

    return template_xlsx()


def xlsx_with_cell(size: int) -> bytes:
    """The shipped XLSX template with ``size`` letters more in its first text cell."""
    import io
    import zipfile

    src, out = zipfile.ZipFile(io.BytesIO(_template_xlsx())), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("sheet1.xml"):
                i = data.index(b"<is><t>") + len(b"<is><t>")
                data = data[:i] + b"A" * size + data[i:]
            z.writestr(info.filename, data)
    return out.getvalue()


@st.composite
def inventory_files(draw: st.DrawFn) -> tuple[bytes, str]:
    import csv
    import io

    how = draw(st.integers(0, 7))
    if how == 0:
        return draw(st.binary(max_size=300)), draw(st.sampled_from(["inv.csv", "inv.xlsx", "inv.xls"]))
    if how == 1:
        return xlsx_with_cell(draw(st.sampled_from([0, 10, 3 * 1024 * 1024]))), "inv.xlsx"
    if how == 2:
        data = bytearray(_template_xlsx())
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data), "inv.xlsx"
    rows = [row for row in csv.reader(_HEADER)]
    header = rows[0] if draw(st.integers(0, 7)) else draw(mutated(rows[0]))
    body = [draw(mutated(r)) for r in rows[1:]]
    body += draw(st.lists(st.lists(st.text(max_size=12), max_size=13), max_size=4))
    buf = io.StringIO()
    csv.writer(buf, delimiter=draw(st.sampled_from([",", ",", ";", "\t"]))).writerows(
        [[str(c) for c in r] if isinstance(r, list) else [str(r)] for r in [header, *body]])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]))
    return buf.getvalue().encode(encoding, errors="replace"), "inv.csv"


def check_inventory(case: tuple[bytes, str]) -> Outcome:
    from cloud_ingest.evidence.inventory_file import InventoryFileError, parse

    data, filename = case
    try:
        parsed = parse(data, filename=filename)
    except InventoryFileError as err:
        return Outcome(False, reason_of(str(err), "inventory")[:30])
    for e in parsed.errors:
        reason_of(str(e), "inventory row")
    return Outcome(True, "with row errors" if parsed.errors else "clean")
