"""The findings a reader must see beside the figures (``Figures.notes``), in Chinese and English:
a wrong gateway clock, a clamped window, no inventory, devices outside it or silent, unexplained
loss, data read raw because the rollups had not reached it."""

from __future__ import annotations

from collections.abc import Sequence

from cloud_ingest.evidence.inputs import Inputs
from cloud_ingest.evidence.schema import Note


def findings(x: Inputs, *, unlisted: Sequence[str], silent: Sequence[str]) -> list[Note]:
    notes = []
    for g in x.gateways:
        c = x.clocks[g.id]
        if c.corrected and c.offset_ms is not None:
            s = c.offset_ms / 1000
            notes.append(
                Note(
                    code="clock_corrected",
                    zh=f"网关 {g.code} 时钟偏差 {s:+.1f} 秒，超出容差；其数据时间已按偏差校正。",
                    en=f"gateway {g.code}: clock off by {s:+.1f} s, beyond the tolerance; its data "
                    "times were corrected by the offset.",
                )
            )
    if x.span.requested_end is not None:
        notes.append(
            Note(
                code="window_clamped",
                zh="结束时间在未来，已按当前时间计算。",
                en="the requested end was in the future; the window ends now.",
            )
        )
    if not x.inventory:
        notes.append(
            Note(
                code="no_inventory",
                zh="未导入设备台账：设备联网率、数字化率和关键工序采集率不可计算。",
                en="no equipment inventory imported: the networking, digitalization and key-process "
                "rates are not computable.",
            )
        )
    if unlisted:
        notes.append(
            Note(
                code="unlisted_devices",
                zh=f"{len(unlisted)} 台设备有网关上报但不在台账中，未计入任何比率。",
                en=f"{len(unlisted)} devices announced by gateways are not in the inventory and are "
                "counted in no rate.",
            )
        )
    if silent:
        notes.append(
            Note(
                code="silent_devices",
                zh=f"{len(silent)} 台台账中标为已联网的设备在窗口内无有效数据。",
                en=f"{len(silent)} devices declared networked delivered no good data in the window.",
            )
        )
    lost = sum(r.unexplained for r in x.reconciliation)
    if lost:
        notes.append(
            Note(
                code="unexplained_loss",
                zh=f"对账发现 {lost} 个样本无法解释（网关已确认发布但云端未入库）。",
                en=f"reconciliation shows {lost} samples unexplained (acknowledged by the broker, "
                "neither stored nor rejected).",
            )
        )
    if x.rollups_pending:
        notes.append(
            Note(
                code="rollups_pending",
                zh="部分数据尚未汇总，已直接读取原始样本；指标仍然精确。",
                en="some data was not rolled up yet and was read raw; the figures are still exact.",
            )
        )
    return notes
