"""The JSON schema in docs/ is the one the code produces, and the keys tools rely on are there."""

import json

from cloud_ingest.evidence.schema import SCHEMA_VERSION, Figures
from tests.support import ROOT

REQUIRED_TOP = {
    "schema_version",
    "enterprise",
    "window",
    "inventory",
    "networking_rate",
    "networking_band",
    "digitalization_rate",
    "key_process_rate",
    "business_links",
    "latency_ms",
    "gateways",
    "devices",
    "tags",
    "reconciliation",
}


def test_docs_schema_is_current() -> None:
    """If this fails: regenerate docs/evidence.schema.json (see the command in the assertion)."""
    current = json.loads((ROOT / "docs" / "evidence.schema.json").read_text(encoding="utf-8"))
    assert current == Figures.model_json_schema(mode="serialization"), (
        'docs/evidence.schema.json is stale: python -c "import json; from cloud_ingest.evidence.schema'
        ' import '
        "Figures; print(json.dumps(Figures.model_json_schema(mode='serialization'), ensure_ascii=False, "
        'indent=1, sort_keys=True))" > docs/evidence.schema.json'
    )


def test_the_keys_issue_11_promises() -> None:
    schema = Figures.model_json_schema(mode="serialization")
    assert set(schema["properties"]) >= REQUIRED_TOP
    defs = schema["$defs"]
    assert {"start", "end"} <= set(defs["Window"]["properties"])
    assert {"production_devices", "networked_devices", "delivering_devices", "digital_devices"} <= set(
        defs["InventorySummary"]["properties"]
    )
    assert {"p50", "p95", "p99", "max"} <= set(defs["Latency"]["properties"])
    assert {"clock_offset_ms", "online_ratio", "sessions"} <= set(defs["GatewayFigures"]["properties"])
    assert {
        "device",
        "workshop",
        "line",
        "key_process",
        "online_ratio",
        "completeness",
        "samples_expected",
        "samples_stored",
        "samples_late",
        "gaps",
    } <= set(defs["DeviceFigures"]["properties"])
    assert {"start", "end", "duration_s", "cause"} <= set(defs["Gap"]["properties"])
    assert {"device", "tag", "expected", "stored", "good", "completeness"} <= set(
        defs["TagFigures"]["properties"]
    )
    for name in ("GatewayReconciliation", "DeviceReconciliation"):
        assert {"read", "published", "dropped", "stored", "unexplained"} <= set(defs[name]["properties"])
    assert SCHEMA_VERSION == "1.0"


def test_docs_define_every_gap_cause() -> None:
    from cloud_ingest.evidence.schema import GAP_CAUSES

    text = (ROOT / "docs" / "evidence.md").read_text(encoding="utf-8")
    for cause in GAP_CAUSES:
        assert f"`{cause}`" in text


def test_the_example_in_docs_is_a_valid_document() -> None:
    """docs/evidence.example.json (a small enterprise: a device offline for 30 s, one silent for a
    minute, a press no gateway reads) is what tools can develop against."""
    doc = Figures.model_validate_json((ROOT / "docs" / "evidence.example.json").read_text(encoding="utf-8"))
    assert doc.schema_version == SCHEMA_VERSION and doc.networking_rate is not None
