"""The evidence's input errors and the window a request names.

    EvidenceError          anything the caller asked for that cannot be answered
    ├── WindowInvalid      end ≤ start, a start not in the past, a time that does not parse
    └── UnknownEnterprise  no such enterprise (the message lists some that exist)
    SchemaTooOld           the database has not been migrated to what the figures read

Each message says what is wrong and what would be accepted; the CLI turns them into exit code 2
(1 for SchemaTooOld), the API into 422 / 404 (503).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class EvidenceError(ValueError):
    pass


class WindowInvalid(EvidenceError):
    pass


class UnknownEnterprise(EvidenceError):
    def __init__(self, code: str, known: list[str]) -> None:
        hint = f"known enterprises: {', '.join(known)}" if known else "no enterprise has reported yet"
        super().__init__(f"unknown enterprise {code!r} / 未知企业; {hint}")
        self.code = code


class SchemaTooOld(RuntimeError):
    def __init__(self, have: int, need: int) -> None:
        super().__init__(
            f"the database schema is version {have}; the evidence needs {need}: run "
            "`cloud-ingest migrate` / 数据库结构过旧，请先执行 cloud-ingest migrate"
        )


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise WindowInvalid(f"unknown time zone {name!r}; use e.g. Asia/Shanghai or UTC") from err


def parse_time(text: str, *, tz: tzinfo, now: datetime) -> datetime:
    """ISO 8601 with or without an offset (without: in ``tz``), a bare date (its midnight in
    ``tz``), or "now"."""
    t = text.strip()
    if t.lower() == "now":
        return now
    try:
        if len(t) == 10:
            dt = datetime.combine(date.fromisoformat(t), time(0), tzinfo=tz)
        else:
            dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=tz)
    except ValueError as err:
        raise WindowInvalid(
            f"cannot read time {text!r} / 无法识别的时间; use ISO 8601, e.g. 2026-03-01, "
            "2026-03-01T08:00 or 2026-03-01T00:00:00Z"
        ) from err
    return dt.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime
    requested_end: datetime | None  # set when the end was in the future and was clamped


def check_window(start: datetime, end: datetime, *, now: datetime) -> Span:
    if start.tzinfo is None or end.tzinfo is None:
        raise WindowInvalid("window times need a time zone")
    if start >= now:
        raise WindowInvalid(
            f"the window starts in the future ({start.isoformat()}, now {now.isoformat()}) / "
            "开始时间在未来; nothing can have been delivered yet"
        )
    if end <= start:
        raise WindowInvalid(
            f"the window ends ({end.isoformat()}) at or before it starts ({start.isoformat()}) / "
            "结束时间必须晚于开始时间; give --to later than --from"
        )
    if end > now:
        return Span(start, now, end)
    return Span(start, end, None)


def to_ms(dt: datetime) -> int:
    return round(dt.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
