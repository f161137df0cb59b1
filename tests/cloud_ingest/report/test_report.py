"""The report looked at as a person would: the PDF's fonts are embedded (pdffonts), its Chinese
text extracts (pdftotext), its pages render to non-blank images with the charts' colours
(pdftoppm), every Chinese character is in the embedded font (no missing-glyph boxes), and the
HTML opens in headless Chromium with no script and no network, showing the same text and charts."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fontTools.ttLib import TTCollection
from PIL import Image

from cloud_ingest.attest import keys
from cloud_ingest.report import render_html
from cloud_ingest.report.fonts import FAMILY, require_cjk_font
from tests.cloud_ingest.attest.chain import Chain, write
from tests.cloud_ingest.attest.figures_fixture import make_figures

PHRASES = (
    "数据贯通证据报告",
    "设备联网率",
    "设备状态与完整性",
    "延迟与时钟",
    "数据缺口",
    "丢失对账",
    "设备台账",
    "方法说明",
    "签名能证明什么",
    "Device networking rate",
    "示例精密制造有限公司",
)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag == "style"

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _pixels(img: Image.Image) -> list[tuple[int, int, int]]:
    get = getattr(img, "get_flattened_data", None) or img.getdata
    return list(get())


def visible_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    return "".join(p.parts)


@pytest.fixture(scope="module")
def pkg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    keys.init_key(tmp / "signing.key")
    built = Chain(key_file=tmp / "signing.key").add(figures=make_figures(devices=12, tags=4))
    return write(built.files, tmp / "pkg")


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is missing: run `bash scripts/services.sh` (installs poppler-utils)"
    return path


def test_pdf_fonts_are_embedded(pkg: Path) -> None:
    out = subprocess.run(
        [_tool("pdffonts"), str(pkg / "report" / "report.pdf")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    rows = out.splitlines()[2:]
    assert rows and any("Noto-Sans-CJK-SC" in r for r in rows)
    for r in rows:
        emb = r.split()[-5]
        assert emb == "yes", f"font not embedded: {r}"


def test_pdf_text_extracts_in_chinese_on_a4_with_page_numbers(pkg: Path) -> None:
    pdf = pkg / "report" / "report.pdf"
    text = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for phrase in PHRASES:
        assert phrase in text, phrase
    info = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert "595.276 x 841.89 pts (A4)" in info
    assert f"第 1 页，共 {pages} 页" in text and f"Page {pages} of {pages}" in text
    fp = (pkg / "keys" / "fingerprint.txt").read_text(encoding="utf-8").splitlines()[1]
    assert fp.split()[0] in text  # the report prints the key fingerprint


def test_pages_render_with_charts(pkg: Path, tmp_path: Path) -> None:
    subprocess.run(
        [_tool("pdftoppm"), "-r", "50", "-png", str(pkg / "report" / "report.pdf"), str(tmp_path / "p")],
        check=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 6
    delivering_green = (0x2E, 0x9E, 0x5B)
    seen_green = False
    for page in pages:
        img = Image.open(page).convert("RGB")
        dark = sum(1 for px in _pixels(img) if sum(px) < 600)
        assert dark > 500, f"{page.name} looks blank"
        seen_green = seen_green or any(
            all(abs(a - b) < 12 for a, b in zip(px, delivering_green, strict=True)) for px in _pixels(img)
        )
    assert seen_green, "no page shows the state timeline's colour"


def test_every_chinese_character_is_in_the_embedded_font(pkg: Path) -> None:
    html = (pkg / "report" / "report.html").read_text(encoding="utf-8")
    chars = {ch for ch in visible_text(html) if ord(ch) > 0x2E7F}
    assert len(chars) > 200
    collection = TTCollection(str(require_cjk_font()))
    font = next(f for f in collection.fonts if f["name"].getDebugName(1) == FAMILY)
    cmap = font.getBestCmap()
    missing = sorted(ch for ch in chars if ord(ch) not in cmap)
    assert missing == [], f"characters the font lacks (would print as boxes): {missing}"


def test_html_is_self_contained(pkg: Path) -> None:
    html = (pkg / "report" / "report.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "<link" not in html.lower() and "<img" not in html.lower()
    assert set(re.findall(r"https?://[^\s\"'<]+", html)) <= {"http://www.w3.org/2000/svg"}
    assert html.count("<svg") == 4


def test_html_and_pdf_are_deterministic() -> None:
    f = make_figures(devices=5, tags=2)
    cover = {
        "sequence": 1,
        "created_at": "2026-01-04T01:00:00Z",
        "key_id": "a" * 64,
        "fingerprint": "aaaa",
        "data_digest": "0" * 64,
        "log_origin": "x",
        "previous_envelope_sha256": None,
        "generator_version": "0",
        "enterprise": {"code": "ent-demo"},
    }
    assert render_html(f, cover) == render_html(make_figures(devices=5, tags=2), cover)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed: bash scripts/services.sh")
def test_html_in_headless_chromium(pkg: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None
    profile = tempfile.mkdtemp(prefix="sfg-chromium-")
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]
    url = (pkg / "report" / "report.html").as_uri()
    try:
        dom = subprocess.run(
            [*flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        shot = tmp_path / "page.png"
        subprocess.run(
            [*flags, f"--screenshot={shot}", "--window-size=1000,1400", url],
            capture_output=True,
            timeout=120,
            check=True,
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    for phrase in PHRASES:
        assert phrase in dom, phrase
    assert dom.count("<svg") == 4 and 'class="state-delivering"' in dom and 'class="cell"' in dom
    img = Image.open(shot).convert("RGB")
    assert sum(1 for px in _pixels(img) if sum(px) < 600) > 1000, "the page rendered blank"


def test_300_devices_stay_readable(tmp_path: Path) -> None:
    from cloud_ingest.report import render_pdf

    f = make_figures(devices=300, tags=3, days=30)
    cover = {
        "sequence": 1,
        "created_at": "2026-02-01T01:00:00Z",
        "key_id": "a" * 64,
        "fingerprint": "aaaa",
        "data_digest": "0" * 64,
        "log_origin": "x",
        "previous_envelope_sha256": None,
        "generator_version": "0",
        "enterprise": {"code": "ent-big"},
    }
    html = render_html(f, cover)
    pdf = tmp_path / "big.pdf"
    pdf.write_bytes(render_pdf(html))
    text = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    info = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    assert pages < 80
    assert "40 of 300 devices drawn" in text.replace("\n", " ")
    assert "D300" in text  # every device is in the device table, which continues across pages
