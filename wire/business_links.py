"""The 14 business links (业务环节) of the MIIT SME digitalization indicators (2024 edition),
item "automatic data collection" (数据采集): each tag, and each inventory row, may name the
links it serves, so the evidence shows which links have automatically collected data.

The keys are stable English identifiers (they travel in births and are stored); the labels
are what a reviewer reads, Chinese first.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

BusinessLink = Literal[
    "product_design", "process_design", "marketing", "after_sales", "planning_scheduling",
    "production_control", "quality", "equipment", "safety", "energy", "purchasing",
    "warehousing_logistics", "finance", "human_resources",
]

# key -> (Chinese label, English label), in the order of the indicator's list
LABELS: Final[dict[str, tuple[str, str]]] = {
    "product_design": ("产品设计", "Product design"),
    "process_design": ("工艺设计", "Process design"),
    "marketing": ("营销管理", "Marketing"),
    "after_sales": ("售后服务", "After-sales service"),
    "planning_scheduling": ("计划排程", "Planning and scheduling"),
    "production_control": ("生产管控", "Production control"),
    "quality": ("质量管理", "Quality management"),
    "equipment": ("设备管理", "Equipment management"),
    "safety": ("安全生产", "Safety"),
    "energy": ("能源管理", "Energy management"),
    "purchasing": ("采购管理", "Purchasing"),
    "warehousing_logistics": ("仓储物流", "Warehousing and logistics"),
    "finance": ("财务管理", "Finance"),
    "human_resources": ("人力资源", "Human resources"),
}
KEYS: Final[tuple[str, ...]] = get_args(BusinessLink)
assert tuple(LABELS) == KEYS, "labels and keys must list the same links in the same order"


def parse(text: str) -> str:
    """A link named by key or by its Chinese or English label (as a person types it in an
    inventory sheet); raises ValueError listing the valid keys."""
    t = text.strip()
    for key, (zh, en) in LABELS.items():
        if t in (key, zh) or t.lower() == en.lower():
            return key
    raise ValueError(f"unknown business link {text!r}; use one of: "
                     + ", ".join(f"{k} ({zh})" for k, (zh, _) in LABELS.items()))
