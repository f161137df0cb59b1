"""A Python that has nothing but the standard library and `cryptography`, as a reviewer's laptop
has: the shipped verifier runs on it in a subprocess (unit tests and the e2e test share it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cryptography

# cryptography's own dependencies (cffi is only needed by some builds; link it when present)
_DEPS = ("cryptography", "cffi", "_cffi_backend", "pycparser")


def only_cryptography(tmp: Path) -> Path:
    """A folder holding links to cryptography (and what it imports), nothing else."""
    site = Path(cryptography.__file__).resolve().parent.parent
    lib = tmp / "lib"
    lib.mkdir()
    for entry in site.iterdir():
        if entry.name.split(".")[0] in _DEPS and not entry.name.endswith(".dist-info"):
            (lib / entry.name).symlink_to(entry)
    return lib


def run_offline(lib: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """python -I -S: no site-packages, no environment, no script folder; then only ``lib``."""
    boot = (
        "import sys, runpy; sys.path[:] = [p for p in sys.path if 'site-packages' not in p "
        "and 'dist-packages' not in p]; sys.path.append(sys.argv.pop(1)); sys.argv.pop(0); "
        "runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", boot, str(lib), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
