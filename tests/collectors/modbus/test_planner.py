"""Request planning: merging tags into the fewest requests within the protocol's limits."""

from __future__ import annotations

from collectors.modbus.planner import Limits, Plan, Request, coalesce, halves, merge
from device_profiles.modbus import ModbusTag


def tag(name: str, address: int, *, table: str = "holding", type: str = "uint16", **kw: object) -> ModbusTag:
    return ModbusTag.model_validate({"name": name, "table": table, "address": address, "type": type, **kw})


def spans(reqs: list[Request]) -> list[tuple[str, int, int]]:
    return [(r.table, r.start, r.count) for r in reqs]


def test_neighbours_merge_and_gaps_above_max_gap_split() -> None:
    tags = [tag("a", 0), tag("b", 1, type="float32"), tag("c", 13), tag("d", 40)]
    assert spans(merge(tags, limits=Limits(max_gap_registers=10))) == [("holding", 0, 14), ("holding", 40, 1)]
    assert spans(merge(tags, limits=Limits(max_gap_registers=0))) == [
        ("holding", 0, 3), ("holding", 13, 1), ("holding", 40, 1)]


def test_tables_never_merge_and_come_in_a_fixed_order() -> None:
    tags = [tag("h", 0), tag("i", 0, table="input"), tag("c", 0, table="coil", type="bool"),
            tag("d", 5, table="discrete_input", type="bool")]
    assert [r.table for r in merge(tags, limits=Limits())] == ["coil", "discrete_input", "holding", "input"]


def test_block_size_limits_registers_and_bits() -> None:
    regs = [tag(f"r{i}", i * 2, type="float32") for i in range(100)]  # 200 registers
    reqs = merge(regs, limits=Limits())
    assert spans(reqs) == [("holding", 0, 124), ("holding", 124, 76)]  # no tag split across
    small = merge(regs, limits=Limits(max_block_registers=50))
    assert all(r.count <= 50 for r in small) and len(small) == 4
    bits = [tag(f"b{i}", i, table="coil", type="bool") for i in range(4500)]
    assert spans(merge(bits, limits=Limits())) == [
        ("coil", 0, 2000), ("coil", 2000, 2000), ("coil", 4000, 500)]


def test_overlapping_tags_share_registers() -> None:
    tags = [tag("word", 5), tag("bit3", 5, type="bool", bit=3), tag("hi", 5, mask=0xFF00)]
    (req,) = merge(tags, limits=Limits())
    assert (req.start, req.count, len(req.tags)) == (5, 1, 3)


def test_halves_split_by_tags_and_plan_remembers() -> None:
    tags = [tag("a", 0), tag("b", 1), tag("c", 2), tag("d", 9)]
    plan = Plan.build(tags, limits=Limits())
    (req,) = plan.requests
    left, right = halves(req)
    assert spans([left, right]) == [("holding", 0, 2), ("holding", 2, 8)]
    plan.replace(req, [left], bad={"c": "x", "d": "x"})
    assert spans(plan.requests) == [("holding", 0, 2)] and set(plan.bad) == {"c", "d"}


def test_coalesce_joins_only_touching_pieces_within_the_block_limit() -> None:
    a, b, c = (merge([tag(n, addr)], limits=Limits())[0] for n, addr in (("a", 0), ("b", 1), ("c", 3)))
    assert spans(coalesce([c, b, a], limits=Limits())) == [("holding", 0, 2), ("holding", 3, 1)]
    assert spans(coalesce([a, b], limits=Limits(max_block_registers=1))) == [
        ("holding", 0, 1), ("holding", 1, 1)]
