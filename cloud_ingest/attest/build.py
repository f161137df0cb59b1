"""``evidence build``: figures → package folder, appended to the enterprise's chain and log in
one transaction, under a per-enterprise lock so concurrent builds take consecutive sequence
numbers. A package for a window built twice is a new package with a new sequence number.

The folder is written beside ``out`` and renamed into place only once the database has the
package, so a folder never holds half a package or two packages mixed.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg

from cloud_ingest.attest import store, tables
from cloud_ingest.attest.keys import load_signer
from cloud_ingest.attest.package import Built, PackageInput, build

FiguresSource = Callable[[psycopg.Connection[Any], str, datetime, datetime], dict[str, Any]]


class BuildError(Exception):
    """The build cannot go ahead (bad input, key, or log); the message says what to do."""


class OutputExists(BuildError):
    """--out names a folder that holds something already (and --force was not given)."""


@dataclass(frozen=True, kw_only=True)
class BuildRequest:
    enterprise: str
    start: datetime
    end: datetime
    out: Path
    force: bool = False
    key_file: Path
    log_name: str = "shopfloor-gateway"


def generator_version() -> str:
    try:
        return metadata.version("shopfloor-gateway")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def log_origin(log_name: str, enterprise: str) -> str:
    return f"{log_name}/evidence/{enterprise}"


def zip_package(files: dict[str, bytes], *, top: str, created_at: str) -> bytes:
    """A deterministic zip (sorted names, the package's own time on every entry)."""
    when = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=when.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, files[name])
    return buf.getvalue()


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise OutputExists(f"输出路径是文件 {out} is a file, not a folder: choose another --out")
    if out.exists() and any(out.iterdir()) and not force:
        raise OutputExists(
            f"输出文件夹已存在 {out} exists and is not empty: choose a new folder, or add "
            f"--force "
            "to replace it (a package is never mixed with another)"
        )


def write_dir(files: dict[str, bytes], out: Path, *, force: bool) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, data in files.items():
            p = tmp / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if out.exists():
            if not force and any(out.iterdir()):
                raise OutputExists(
                    f"输出文件夹已存在 {out} appeared while building; add --force to replace it"
                )
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def build_package(
    conn: psycopg.Connection[Any],
    req: BuildRequest,
    *,
    figures_source: FiguresSource,
    render: Any,
    now: datetime | None = None,
) -> Built:
    """Build, record and write one package; ``conn`` must not be in autocommit-free use elsewhere."""
    if req.end <= req.start:
        raise BuildError(
            f"时段无效 the window ends ({req.end:%Y-%m-%dT%H:%M:%SZ}) before it starts "
            f"({req.start:%Y-%m-%dT%H:%M:%SZ}): give --to later than --from"
        )
    _check_out(req.out, req.force)
    key, keyring = load_signer(req.key_file)
    created = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with conn.transaction():
        ent = store.enterprise(conn, req.enterprise)
        if ent is None:
            raise BuildError(
                f"未知企业 unknown enterprise {req.enterprise!r}: no gateway of it has been "
                f"seen and it "
                "has no inventory; check the code (`cloud-ingest status`)"
            )
        store.lock(conn, ent)
        try:
            log = store.log_state(conn, ent)
        except store.LogDamaged as err:
            raise BuildError(str(err)) from err
        figures = figures_source(conn, ent.code, req.start, req.end)
        inp = PackageInput(
            figures=figures,
            rows=tables.tables(figures),
            enterprise=ent.as_dict(),
            created_at=created,
            log_origin=log_origin(req.log_name, ent.code),
            generator_version=generator_version(),
        )
        built = build(inp, log=log, key=key, keyring=keyring, render=render)
        top = f"{ent.code}-{built.sequence:04d}"
        store.append(conn, ent, built, archive=zip_package(built.files, top=top, created_at=created))
        write_dir(built.files, req.out, force=req.force)
    return built


def package_seconds(
    conn: psycopg.Connection[Any], req: BuildRequest, *, figures_source: FiguresSource
) -> float:
    """Wall time of one whole build (figures, report, PDF, signature, log, database, folder): the
    ``package_s`` figure bench/evidence.py reports."""
    import time

    from cloud_ingest.report import render

    t0 = time.perf_counter()
    build_package(conn, req, figures_source=figures_source, render=render)
    return time.perf_counter() - t0
