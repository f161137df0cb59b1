"""Bands, rates, business links and roll-ups."""

import pytest

from cloud_ingest.evidence.indicators import DeviceResult, TagLinks, band, business_links, ratio, rollups


@pytest.mark.parametrize(
    ("rate", "points", "range_"),
    [
        (0.0, 0.0, "[0%, 10%]"),
        (0.10, 0.0, "[0%, 10%]"),
        (0.1000001, 1.5, "(10%, 20%]"),
        (0.2, 1.5, "(10%, 20%]"),
        (0.4, 3.0, "(20%, 40%]"),
        (0.6, 4.5, "(40%, 60%]"),
        (0.75, 6.0, "(60%, 100%]"),
        (1.0, 6.0, "(60%, 100%]"),
    ],
)
def test_miit_bands(rate: float, points: float, range_: str) -> None:
    b = band(rate)
    assert b is not None and (b.points, b.range, b.max_points) == (points, range_, 6.0)


def test_no_rate_no_band() -> None:
    assert band(None) is None and ratio(3, 0) is None and ratio(2, 3) == 0.666667


def _dev(
    name: str, ws: str | None, line: str | None, *, cred: float, exp: int, on: int, span: int
) -> DeviceResult:
    return DeviceResult(
        device=name,
        workshop=ws,
        line=line,
        delivering=cred > 0,
        credited=cred,
        expected=exp,
        good=int(cred),
        online_ms=on,
        expected_ms=span,
    )


def test_rollups_are_event_weighted_completeness_and_time_weighted_online() -> None:
    devs = [
        _dev("a", "W1", "L1", cred=90, exp=100, on=900, span=1000),
        _dev("b", "W1", "L2", cred=10, exp=100, on=100, span=1000),
        _dev("c", None, None, cred=0, exp=0, on=0, span=0),
    ]
    ent, shops, lines = rollups(devs)
    assert (ent.devices, ent.delivering, ent.completeness, ent.online_ratio) == (3, 2, 0.5, 0.5)
    assert [s.workshop for s in shops] == ["W1", None]
    assert [(li.workshop, li.line) for li in lines] == [("W1", "L1"), ("W1", "L2"), (None, None)]
    assert shops[1].completeness is None


def test_business_links_collected_and_declared() -> None:
    links = business_links(
        [
            TagLinks(device="m", links=("energy",), delivering=True),
            TagLinks(device="p", links=("quality",), delivering=False),
        ],
        declared=["equipment", "energy"],
    )
    by = {li.key: li for li in links.links}
    assert (links.covered, links.declared, links.total) == (1, 2, 14)
    assert by["energy"].collected and by["energy"].devices == ["m"] and by["energy"].declared
    assert not by["quality"].collected and by["equipment"].declared and by["equipment"].label_zh == "设备管理"
