"""The CJK font the PDF embeds: Noto Sans CJK SC from Debian's fonts-noto-cjk (OFL), found
through fontconfig as WeasyPrint finds it. Without it Chinese would print as empty boxes, so
rendering stops with the command that installs it."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

FAMILY = "Noto Sans CJK SC"


class FontMissing(RuntimeError):
    """The CJK font is not installed; the message names the package to install."""


@cache
def cjk_font_file() -> Path | None:
    """The font file fontconfig gives for FAMILY, or None when it falls back to another family."""
    if shutil.which("fc-match") is None:
        return None
    out = subprocess.run(
        ["fc-match", "-f", "%{family}\n%{file}", FAMILY],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout.split("\n")
    if len(out) < 2 or FAMILY not in out[0].split(","):
        return None
    return Path(out[1])


def require_cjk_font() -> Path:
    path = cjk_font_file()
    if path is None or not path.exists():
        raise FontMissing(
            f"报告所需的中文字体 {FAMILY} 未安装 the CJK font {FAMILY} is not installed: "
            "run `bash scripts/services.sh` or `apt-get install fonts-noto-cjk`"
        )
    return path
