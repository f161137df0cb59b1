"""README.txt of a package: how to verify it, in Chinese then English, for a reviewer on a
Windows laptop with no network and no copy of our product (text in ``README.txt.in``)."""

from __future__ import annotations

from importlib import resources
from string import Template


def readme_text(*, enterprise: str, sequence: int, fingerprint: str) -> str:
    text = resources.files("cloud_ingest.attest").joinpath("README.txt.in").read_text(encoding="utf-8")
    # Windows Notepad reads CRLF everywhere; older versions show one long line otherwise
    out = Template(text).substitute(enterprise=enterprise, sequence=sequence, fingerprint=fingerprint)
    return out.replace("\r\n", "\n").replace("\n", "\r\n")
