"""Make the reviewer guide's pictures (docs/images/reviewer-*.png): report pages and the
verifier's output, from packages built by the real builder, report and verifier on the attest
tests' fixture figures (tests/cloud_ingest/attest/chain.py), so no database is needed.

    .venv/bin/python scripts/docs_images.py        (needs poppler's pdftoppm and fonts-noto-cjk)

The verifier's output is drawn as a Windows command prompt would show it (the reviewer's usual
machine), with the package folders named as in docs/reviewer-guide.md.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cloud_ingest.attest import keys  # noqa: E402
from tests.cloud_ingest.attest.chain import Chain, write  # noqa: E402

OUT = REPO / "docs" / "images"
FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
MONO_SC = 7  # "Noto Sans Mono CJK SC" in that collection
# each picture is the first page whose text has its heading (the layout may move pages)
HEADINGS = {"cover": "数据贯通证据报告", "summary": "指标汇总", "devices": "设备状态与完整性",
            "latency": "延迟与时钟", "gaps": "数据缺口", "reconciliation": "丢失对账"}
NAMES = ("ent-demo-0001", "ent-demo-0002", "ent-demo-0003")  # the fixture's enterprise, as the API names zips


def verify(folder: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "verify_package.py", ".", *args], cwd=folder, capture_output=True,
                          text=True, check=False)
    return done.stdout + done.stderr


def page_text(pdf: Path, number: int) -> str:
    done = subprocess.run(["pdftotext", "-f", str(number), "-l", str(number), str(pdf), "-"],
                          capture_output=True, text=True, check=True)
    return done.stdout


def terminal(lines: list[str], path: Path) -> None:
    font = ImageFont.truetype(FONT, 15, index=MONO_SC)
    width = max(int(font.getlength(line)) for line in lines) + 32
    image = Image.new("RGB", (width, 22 * len(lines) + 24), (12, 12, 12))
    draw = ImageDraw.Draw(image)
    for n, line in enumerate(lines):
        colour = (235, 235, 235)
        if "[失败 FAIL]" in line or "NOT VERIFIED" in line:
            colour = (255, 110, 100)
        elif "[通过 OK]" in line or "VERIFIED" in line:
            colour = (120, 220, 130)
        draw.text((16, 12 + 22 * n), line, font=font, fill=colour)
    image.save(path, optimize=True)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="sfg-docs-images-"))
    try:
        key = work / "signing.key"
        keys.init_key(key)
        chain = Chain(key_file=key)
        folders = []
        for name in NAMES:
            folders.append(write(chain.add().files, work / name))
        latest = folders[2]
        pdf = latest / "report/report.pdf"
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(work / "page")], check=True)
        pages = sorted(work.glob("page-*.png"))  # page-1.png or page-01.png, by the page count
        texts = [page_text(pdf, n) for n in range(1, len(pages) + 1)]
        for what, heading in HEADINGS.items():
            number = next(n for n, text in enumerate(texts) if heading in text)
            shutil.copy(pages[number], OUT / f"reviewer-report-{what}.png")
        prompt = rf"D:\证据\{NAMES[2]}>"
        ok = verify(latest, "--previous", rf"..\{NAMES[1]}".replace("\\", "/"))
        terminal([f"{prompt}python verify_package.py . --previous ..\\{NAMES[1]}", *ok.splitlines()],
                 OUT / "reviewer-verify-ok.png")
        tampered = work / "tampered"
        shutil.copytree(latest, tampered)
        gaps = tampered / "data/gaps.csv"
        gaps.write_bytes(gaps.read_bytes().replace(b"device_offline", b"delivered_late", 1))
        bad = verify(tampered)
        terminal([f"{prompt}python verify_package.py .", *bad.splitlines()],
                 OUT / "reviewer-verify-tampered.png")
        missing = verify(latest, "--previous", f"../{NAMES[0]}")
        terminal([f"{prompt}python verify_package.py . --previous ..\\{NAMES[0]}", *missing.splitlines()],
                 OUT / "reviewer-verify-missing.png")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("wrote", ", ".join(sorted(p.name for p in OUT.glob("reviewer-*.png"))))


if __name__ == "__main__":
    main()
