"""Reading an equipment inventory (设备台账) from CSV or XLSX: every row checked, every bad row
named by its line number and the reason, in Chinese and English.

CSV comes from Excel or WPS on Chinese Windows as often in GBK as in UTF-8, so: a byte-order
mark decides (UTF-8 or UTF-16, the latter is Excel's "Unicode text", tab-separated); otherwise
strict UTF-8, then strict GB18030 (a superset of GBK and GB2312). A file that is neither is
refused with the way to save it as "CSV UTF-8". XLSX is read with openpyxl (first sheet, cell
values, not formulas). Column headers are matched by their Chinese label or English key, so
"设备编码 device_code", "设备编码" and "device_code" all work.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass, field
from typing import cast

from wire import business_links

MAX_ROWS = 100_000
XLSX_MAX_INFLATED = 128 * 1024 * 1024  # 100,000 rows of inline strings are about 60 MB of XML
XLSX_MAX_RATIO = 100  # sheet XML compresses 5-20:1
XLSX_MAX_MEMBERS = 1000


class InventoryFileError(ValueError):
    """The file as a whole cannot be read (encoding, format, header)."""


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    zh: str
    required: bool
    kind: str  # text | bool | links
    english: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("device_code", "设备编码", True, "text", ("code", "device id", "device code")),
    Column("name", "设备名称", True, "text", ("device name",)),
    Column("type", "设备类型", False, "text", ("device type", "category")),
    Column("workshop", "车间", False, "text"),
    Column("line", "产线", False, "text", ("production line",)),
    Column("key_process", "关键工序", True, "bool", ("key process",)),
    Column("networked", "已联网", True, "bool"),
    Column("digital", "具备数字化能力", True, "bool", ("digitally capable", "digitalized")),
    Column("business_links", "业务环节", False, "links", ("business link", "links")),
    Column("production", "生产设备", False, "bool", ("production device",)),
    Column("notes", "备注", False, "text", ("remark", "remarks", "note")),
)
_TRUE = {"是", "y", "yes", "true", "1", "√", "✓", "✔", "t"}
_FALSE = {"否", "n", "no", "false", "0", "×", "✗", "✘", "f"}
_LINK_SPLIT = re.compile(r"[、,，;；|/\n]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    line: int
    code: str
    name: str
    type: str | None
    workshop: str | None
    line_name: str | None
    key_process: bool
    networked: bool
    digital: bool
    production: bool
    links: tuple[str, ...]
    notes: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RowError:
    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.column}" if self.column else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Parsed:
    rows: list[Row]
    errors: list[RowError]
    encoding: str
    sha256: str
    ignored_columns: list[str] = field(default_factory=list)


def _norm(cell: str) -> str:
    return re.sub(r"[\s_*（）()\[\]【】:：/\-]+", " ", unicodedata.normalize("NFKC", cell)).strip().lower()


def match_header(cells: list[str]) -> tuple[dict[str, int], list[str]]:
    """Column key → index, and the headers that matched nothing."""
    found: dict[str, int] = {}
    ignored = []
    for i, raw in enumerate(cells):
        cell = _norm(raw)
        if not cell:
            continue
        words = f" {cell} "
        hit = None
        for col in COLUMNS:
            names = (col.zh, col.key.replace("_", " "), *col.english)
            if any((n in cell) if not n.isascii() else (f" {n} " in words) for n in names):
                hit = col.key
                break
        if hit is None or hit in found:
            ignored.append(raw.strip())
        else:
            found[hit] = i
    return found, ignored


def _decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8 (BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as utf8_err:
        try:
            return data.decode("gb18030"), "gbk/gb18030"
        except UnicodeDecodeError:
            line = data[: utf8_err.start].count(b"\n") + 1
            raise InventoryFileError(
                f"the file is neither UTF-8 nor GBK (byte 0x{data[utf8_err.start]:02x} on line {line}) / "
                "文件编码既不是 UTF-8 也不是 GBK。请在 Excel 中“另存为”→“CSV UTF-8（逗号分隔）”，或在 WPS 中"
                "“另存为”→ CSV 并选择 UTF-8 编码，然后重新导入；也可以直接导入 .xlsx 文件。 / In Excel use "
                'Save As → "CSV UTF-8 (Comma delimited)", in WPS Save As → CSV with UTF-8, or import the '
                ".xlsx file itself."
            ) from None


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    sample = text[:4096]
    first = sample.splitlines()[0] if sample else ""
    delimiter = max(",;\t", key=first.count) if first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out, line = [], 1
    try:
        for record in reader:
            out.append((line, record))
            line = reader.line_num + 1
    except csv.Error as err:
        raise InventoryFileError(  # noqa: B904 - the message holds all there is
            f"line {reader.line_num}: not valid CSV ({err}) / 第 {reader.line_num} 行不是有效的 CSV"
        )
    return out


def _check_zip(data: bytes) -> None:
    """Refuse an XLSX that would unpack to more than any inventory needs, before openpyxl
    inflates it: a 300 KB file whose sheet holds 300 MB of one letter cost 3 GB of memory and
    20 s (found by scripts/fuzz.py's inventory target). zipfile never inflates a member beyond
    its declared size, so the declared sizes bound the work."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            members = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise InventoryFileError(f"cannot read the XLSX file (not a ZIP archive: {err}) / 无法读取 XLSX 文件"
                                 ) from err
    total = sum(m.file_size for m in members)
    if len(members) > XLSX_MAX_MEMBERS or total > XLSX_MAX_INFLATED:
        raise InventoryFileError(
            f"the XLSX file unpacks to {total} bytes in {len(members)} parts, more than an inventory of "
            f"{MAX_ROWS} rows needs ({XLSX_MAX_INFLATED} bytes); save it again from Excel, or as CSV UTF-8 / "
            "XLSX 文件解压后过大，请在 Excel 中重新保存或另存为 CSV UTF-8")
    for m in members:
        if m.file_size > 1024 * 1024 and m.file_size > XLSX_MAX_RATIO * max(1, m.compress_size):
            raise InventoryFileError(
                f"the XLSX part {m.filename} is compressed {m.file_size // max(1, m.compress_size)}:1 "
                f"({m.file_size} bytes from {m.compress_size}); no spreadsheet compresses like that, the "
                "file is refused (a zip bomb?); save it again from Excel, or as CSV UTF-8 / "
                "XLSX 文件压缩比异常（疑似压缩炸弹），已拒绝；请重新保存或另存为 CSV UTF-8")


def _xlsx_rows(data: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook  # only for XLSX files

    _check_zip(data)
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many kinds for a damaged file
        raise _damaged(err) from err
    try:
        ws = wb.worksheets[0]
        out = []
        for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
            out.append((i, ["" if v is None else _cell_text(v) for v in values]))
            if i > MAX_ROWS + 10:
                break
        return out
    except Exception as err:  # a sheet damaged past its header parses until the damage
        raise _damaged(err) from err
    finally:
        wb.close()


def _damaged(err: Exception) -> InventoryFileError:
    # a damaged part's message can quote kilobytes of it (scripts/fuzz.py found 8 KB): cut it
    detail = str(err)
    detail = detail if len(detail) <= 300 else detail[:300] + "…"
    return InventoryFileError(
        f"cannot read the XLSX file ({type(err).__name__}: {detail}) / 无法读取 XLSX 文件")


def _cell_text(v: object) -> str:
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _bool(value: str, col: Column) -> bool | str:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    shown = value.strip() or "(empty)"
    return f"{col.zh} {col.key}: {shown!r} is not 是/否 (yes/no) / 请填写“是”或“否”"


def _text(value: str) -> str | None:
    v = value.strip()
    return v or None


def parse(data: bytes, *, filename: str) -> Parsed:
    """Read the whole file; raises InventoryFileError when it cannot be read at all."""
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InventoryFileError(
            "this is an old Excel .xls file; save it as .xlsx or as CSV UTF-8 / "
            "这是旧版 .xls 文件，请另存为 .xlsx 或 CSV UTF-8 后再导入"
        )
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith(".xlsx"):
        records, encoding = _xlsx_rows(data), "xlsx"
    else:
        text, encoding = _decode(data)
        records = _csv_rows(text)
    records = [(n, r) for n, r in records if any(c.strip() for c in r)]
    if not records:
        raise InventoryFileError("the file has no rows / 文件中没有数据")
    header_line, header = records[0]
    cols, ignored = match_header(header)
    missing = [f"{c.zh} {c.key}" for c in COLUMNS if c.required and c.key not in cols]
    if missing:
        raise InventoryFileError(
            f"line {header_line}: the header lacks {', '.join(missing)} / 表头缺少必填列; found: "
            f"{', '.join(h.strip() for h in header if h.strip()) or '(nothing)'}; "
            "see examples/inventory-template.csv"
        )
    if len(records) - 1 > MAX_ROWS:
        raise InventoryFileError(f"more than {MAX_ROWS} rows; split the file / 行数超过 {MAX_ROWS}")
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for line, record in records[1:]:
        problems: list[RowError] = []
        values: dict[str, object] = {}
        for col in COLUMNS:
            raw = record[cols[col.key]] if col.key in cols and cols[col.key] < len(record) else ""
            if col.kind == "bool":
                if not raw.strip() and not col.required:
                    values[col.key] = True  # production defaults to yes
                    continue
                got = _bool(raw, col)
                if isinstance(got, str):
                    problems.append(RowError(line=line, column=col.key, message=got))
                values[col.key] = got
            elif col.kind == "links":
                links = []
                for part in filter(None, (p.strip() for p in _LINK_SPLIT.split(raw))):
                    try:
                        links.append(business_links.parse(part))
                    except ValueError as err:
                        problems.append(RowError(line=line, column=col.key, message=f"{col.zh}: {err}"))
                values[col.key] = tuple(dict.fromkeys(links))
            else:
                values[col.key] = _text(raw)
        code, name = values["device_code"], values["name"]
        if not code:
            problems.append(
                RowError(line=line, column="device_code", message="设备编码 device_code is empty / 不能为空")
            )
        elif len(str(code)) > 128 or any(unicodedata.category(ch).startswith("C") for ch in str(code)):
            problems.append(
                RowError(
                    line=line,
                    column="device_code",
                    message="设备编码 device_code: at most 128 printable characters / 过长或含控制字符",
                )
            )
        elif str(code) in seen:
            problems.append(
                RowError(
                    line=line,
                    column="device_code",
                    message=f"设备编码 {code!r} already on line {seen[str(code)]} / 与第 "
                    f"{seen[str(code)]} 行重复",
                )
            )
        if not name:
            problems.append(RowError(line=line, column="name", message="设备名称 name is empty / 不能为空"))
        if problems:
            errors += problems
            continue
        seen[str(code)] = line
        rows.append(
            Row(
                line=line,
                code=str(code),
                name=str(name),
                type=cast(str | None, values["type"]),
                workshop=cast(str | None, values["workshop"]),
                line_name=cast(str | None, values["line"]),
                key_process=bool(values["key_process"]),
                networked=bool(values["networked"]),
                digital=bool(values["digital"]),
                production=bool(values["production"]),
                links=cast(tuple[str, ...], values["business_links"]),
                notes=cast(str | None, values["notes"]),
            )
        )
    return Parsed(rows=rows, errors=errors, encoding=encoding, sha256=digest, ignored_columns=ignored)


TEMPLATE_HEADER = [f"{c.zh} {c.key}" for c in COLUMNS]
TEMPLATE_ROWS = [
    [
        "FL-01",
        "灌装线 1 号",
        "灌装机",
        "灌装车间",
        "1 号线",
        "是",
        "是",
        "是",
        "生产管控、质量管理",
        "是",
        "",
    ],
    ["MTR-FL-01", "灌装线电表", "电能表", "灌装车间", "1 号线", "否", "是", "是", "energy", "是", "三相电表"],
    ["PRESS-03", "老式冲床", "冲床", "冲压车间", "", "是", "否", "否", "设备管理", "是", "无通信接口"],
    ["PRN-01", "办公打印机", "打印机", "办公室", "", "否", "是", "是", "", "否", "非生产设备，不计入联网率"],
]


def template_csv() -> bytes:
    """The template, UTF-8 with a BOM so Excel opens it with the Chinese intact."""
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(TEMPLATE_HEADER)
    w.writerows(TEMPLATE_ROWS)
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def template_xlsx() -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "设备台账 inventory"
    ws.append(TEMPLATE_HEADER)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in TEMPLATE_ROWS:
        ws.append(row)
    for i, h in enumerate(TEMPLATE_HEADER):
        ws.column_dimensions[ws.cell(1, i + 1).column_letter].width = max(14, len(h) + 6)
    out = io.BytesIO()
    wb.properties.creator = "shopfloor-gateway"
    wb.save(out)
    return out.getvalue()
