"""Reading inventories: UTF-8, GBK and XLSX alike, headers in Chinese or English, every bad row
named by its line and reason, a file that cannot be read refused with what to do."""

from pathlib import Path

import pytest

from cloud_ingest.evidence.inventory_file import (
    TEMPLATE_HEADER,
    TEMPLATE_ROWS,
    InventoryFileError,
    parse,
    template_csv,
    template_xlsx,
)
from tests.support import ROOT

GOOD = "FL-01,灌装线,灌装机,灌装车间,1 号线,是,是,是,生产管控、质量管理,是,\r\n"


def _csv(*rows: str, header: str = ",".join(TEMPLATE_HEADER)) -> str:
    return header + "\r\n" + "".join(rows)


def test_the_committed_templates_are_what_the_code_writes() -> None:
    assert (ROOT / "examples" / "inventory-template.csv").read_bytes() == template_csv()
    committed = parse((ROOT / "examples" / "inventory-template.xlsx").read_bytes(), filename="t.xlsx")
    assert [r.code for r in committed.rows] == [r[0] for r in TEMPLATE_ROWS] and committed.errors == []


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_encodings_a_chinese_office_saves_in(encoding: str) -> None:
    p = parse(_csv(GOOD).encode(encoding), filename="台账.csv")
    assert (
        p.errors == [] and p.rows[0].name == "灌装线" and p.rows[0].links == ("production_control", "quality")
    )


def test_gbk_is_named_in_the_result() -> None:
    assert parse(_csv(GOOD).encode("gbk"), filename="x.csv").encoding == "gbk/gb18030"


def test_an_undecodable_file_says_how_to_save_it() -> None:
    with pytest.raises(InventoryFileError, match="CSV UTF-8") as err:
        parse(b"code,name\r\n\xff\xfe\x00\x81\x30", filename="x.csv")
    assert "UTF-8" in str(err.value) and "GBK" in str(err.value) and "line 2" in str(err.value)


def test_old_xls_and_damaged_xlsx_are_refused() -> None:
    with pytest.raises(InventoryFileError, match=r"\.xls"):
        parse(b"\xd0\xcf\x11\xe0" + b"\0" * 100, filename="a.xls")
    with pytest.raises(InventoryFileError, match="XLSX"):
        parse(b"PK\x03\x04 not really a zip", filename="a.xlsx")


def test_headers_in_chinese_only_english_only_and_extra_columns() -> None:
    zh = "设备编码,设备名称,关键工序,已联网,具备数字化能力,资产编号"
    p = parse(f"{zh}\nA1,冲床,是,否,否,ZC-001\n".encode(), filename="a.csv")
    assert p.errors == [] and p.ignored_columns == ["资产编号"] and p.rows[0].production
    en = "device_code;name;key_process;networked;digital;production"
    p = parse(f"{en}\nA1;press;yes;no;no;no\n".encode(), filename="a.csv")
    assert p.rows[0].production is False


def test_missing_required_columns() -> None:
    with pytest.raises(InventoryFileError, match="已联网 networked"):
        parse("设备编码,设备名称,关键工序,具备数字化能力\nA,B,是,是\n".encode(), filename="a.csv")


def test_every_bad_row_with_its_line_and_reason() -> None:
    text = _csv(
        GOOD,
        ",无编码,机,车间,线,是,是,是,,是,\r\n",
        "FL-02,,机,车间,线,是,是,是,,是,\r\n",
        "FL-03,冲床,机,车间,线,可能,是,是,,是,\r\n",
        "FL-04,冲床,机,车间,线,是,是,是,云计算,是,\r\n",
        "FL-01,重复,机,车间,线,是,是,是,,是,\r\n",
        '"FL-05","多行\r\n备注",机,车间,线,是,是,是,,是,\r\n',
        "FL-06,冲床,机,车间,线,是,是,否,,x,\r\n",
    )
    p = parse(text.encode(), filename="a.csv")
    got = {(e.line, e.column) for e in p.errors}
    assert got == {
        (3, "device_code"),
        (4, "name"),
        (5, "key_process"),
        (6, "business_links"),
        (7, "device_code"),
        (10, "production"),
    }
    assert [r.code for r in p.rows] == ["FL-01", "FL-05"]
    dup = next(e for e in p.errors if e.line == 7)
    assert "line 2" in dup.message
    assert "是/否" in next(e for e in p.errors if e.line == 5).message
    assert "energy (能源管理)" in next(e for e in p.errors if e.line == 6).message


def test_xlsx_booleans_and_numbers(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(TEMPLATE_HEADER)
    ws.append([1001, "数控车床", "车床", "机加车间", None, True, False, True, "equipment", None, None])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    p = parse(path.read_bytes(), filename="a.xlsx")
    assert p.errors == [] and p.encoding == "xlsx"
    r = p.rows[0]
    assert (r.code, r.key_process, r.networked, r.production, r.line) == ("1001", True, False, True, 2)


def test_template_xlsx_round_trips() -> None:
    p = parse(template_xlsx(), filename="t.xlsx")
    assert [r.code for r in p.rows] == [r[0] for r in TEMPLATE_ROWS]
