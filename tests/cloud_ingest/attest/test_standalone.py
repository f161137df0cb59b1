"""The verifier shipped inside a package runs on a Python that has nothing but the standard
library and `cryptography`: no site-packages, no project on the path (checked in that very
interpreter), in a subprocess, as a reviewer would run it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud_ingest.attest import keys
from cloud_ingest.attest.package import verifier_source
from tests.cloud_ingest.attest.chain import Chain, write
from tests.cloud_ingest.attest.offline import only_cryptography as _only_cryptography
from tests.cloud_ingest.attest.offline import run_offline as _run


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("standalone")
    keys.init_key(tmp / "signing.key")
    c = Chain(key_file=tmp / "signing.key")
    first, second = c.add(), c.add()
    return _only_cryptography(tmp), write(first.files, tmp / "p1"), write(second.files, tmp / "p2")


def test_the_interpreter_cannot_import_the_product(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    lib, _p1, _p2 = folders
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import importlib.util as u, sys\n"
        "print([m for m in ('cloud_ingest', 'wire', 'common', 'psycopg', 'weasyprint', 'pytest')"
        " if u.find_spec(m)], u.find_spec('cryptography') is not None)\n"
    )
    out = _run(lib, str(probe), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] True"


def test_the_shipped_file_is_the_products_verifier(folders: tuple[Path, Path, Path]) -> None:
    _lib, p1, _p2 = folders
    assert (p1 / "verify_package.py").read_bytes() == verifier_source()


def test_standalone_verifies_and_catches(folders: tuple[Path, Path, Path], tmp_path: Path) -> None:
    lib, p1, p2 = folders
    ok = _run(
        lib,
        "verify_package.py",
        ".",
        "--previous",
        str(p1),
        "--checkpoint",
        str(p1 / "log" / "checkpoint.txt"),
        cwd=p2,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "校验通过 VERIFIED" in ok.stdout
    bad = tmp_path / "copy"
    for f in p2.rglob("*"):
        if f.is_file():
            target = bad / f.relative_to(p2)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(f.read_bytes())
    csv = bad / "data" / "devices.csv"
    csv.write_bytes(csv.read_bytes().replace(b"D001", b"D009", 1))
    out = _run(lib, "verify_package.py", ".", cwd=bad)
    assert out.returncode == 1
    assert "data/devices.csv: 文件内容与签名记录的摘要不符" in out.stdout
    assert "sha256 differs from the signed digest" in out.stdout
    usage = _run(lib, str(p2 / "verify_package.py"), str(tmp_path / "nothing"), cwd=tmp_path)
    assert usage.returncode == 2 and "is not a folder" in usage.stdout
