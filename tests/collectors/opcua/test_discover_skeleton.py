"""The skeleton builder on browse results as the boundary module hands them over."""

from __future__ import annotations

from collectors.opcua.discover import skeleton
from collectors.opcua.items import BrowsedVariable
from device_profiles.opcua import OpcUaProfile


def var(
    path: list[str],
    *,
    dtype: int | None = 11,
    rank: int = -1,
    msi: float = 0.0,
    ns: int = 3,
    uri: str | None = "urn:plc",
    kind: str = "s",
    ident: object = "x",
) -> BrowsedVariable:
    return BrowsedVariable(path=path, namespace_uri=uri, namespace_index=ns, kind=kind, identifier=ident,
                           data_type=dtype, value_rank=rank, array_dimensions=[4] if rank == 1 else [],
                           min_sampling_ms=msi, description=None)


def test_structured_and_matrix_variables_are_left_out_and_counted() -> None:
    out = skeleton(
        [var(["A"]), var(["B"], dtype=None), var(["C"], rank=2)],
        url="opc.tcp://plc:4840",
        info={},
        depth=3,
        filter=None,
    )
    assert [t["name"] for t in out["tags"]] == ["a"]
    assert "2 variable(s) of structured or multi-dimensional types left out" in out["description"]


def test_names_are_unique_and_intervals_respect_the_servers_minimum() -> None:
    out = skeleton(
        [var(["Line 1", "Speed"]), var(["Line-1", "Speed"], msi=2500.0), var(["Ok"], dtype=1)],
        url="opc.tcp://plc:4840",
        info={"model": "S7-1500", "manufacturer": "Siemens"},
        depth=3,
        filter=None,
    )
    assert [t["name"] for t in out["tags"]] == ["line_1_speed", "line_1_speed_2", "ok"]
    assert [t["interval_ms"] for t in out["tags"]] == [1000, 2500, 500]
    assert (out["profile"], out["manufacturer"]) == ("S7-1500", "Siemens")
    OpcUaProfile.model_validate(out)


def test_node_ids_in_every_notation() -> None:
    out = skeleton(
        [
            var(["g"], kind="g", ident="09087e75-8e5e-499b-954f-f2a9603db28a"),
            var(["b"], kind="b", ident=b"PLC1"),
            var(["i"], kind="i", ident=5, ns=0, uri=None),
            var(["n"], kind="i", ident=6, ns=7, uri=None),
        ],
        url="opc.tcp://plc:4840",
        info={},
        depth=3,
        filter=None,
    )
    assert [t["node_id"] for t in out["tags"]] == [
        "nsu=urn:plc;g=09087e75-8e5e-499b-954f-f2a9603db28a",
        "nsu=urn:plc;b=UExDMQ==",
        "i=5",
        "ns=7;i=6",
    ]
    assert out["tags"][0]["type"] == "Double"
