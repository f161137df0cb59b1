"""The time window a page shows: today, the last 7 or 30 days, or a custom range.

"Today" starts at midnight in the display zone (a reviewer's day, not UTC's); the last 7 or 30
days start at the top of the hour that many days ago. A custom range
is typed as local dates and times (``datetime-local`` inputs) and read in the display zone;
its errors are messages for the page, never a stack trace or a 422 body.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from cloud_ingest.web.render import DISPLAY_TZ, local

Preset = Literal["today", "7d", "30d", "custom"]
PRESETS: dict[str, str] = {"today": "今天 Today", "7d": "近 7 天 7 days", "30d": "近 30 天 30 days",
                           "custom": "自定义 Custom"}
MAX_SPAN = timedelta(days=366)


class WindowError(ValueError):
    """A window the page cannot show; the message is for the person (Chinese, then English)."""


@dataclass(frozen=True)
class Window:
    preset: Preset
    start: datetime
    end: datetime

    @property
    def span(self) -> timedelta:
        return self.end - self.start

    def query(self) -> str:
        """The query string that selects this window again (for links between pages)."""
        if self.preset == "custom":
            lo, hi = self.inputs()
            return f"window=custom&start={lo}&end={hi}"
        return f"window={self.preset}"

    def inputs(self) -> tuple[str, str]:
        """The custom inputs' values (local time, to the minute, or the second when it has one,
        so that a link selects exactly the window it came from)."""
        def text(dt: datetime) -> str:
            return local(dt, "%Y-%m-%dT%H:%M:%S" if dt.second else "%Y-%m-%dT%H:%M")
        return text(self.start), text(self.end)


def _parse_local(text: str, field: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise WindowError(f"{field} 时间格式不对 '{text}' / {field} is not a date and time "
                          "(expected 2026-01-31T08:00)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=DISPLAY_TZ)
    return value.astimezone(UTC)


def parse(preset: str | None, start: str | None, end: str | None, *, now: datetime | None = None) -> Window:
    """The window named by a page's query parameters; raises WindowError with the reason."""
    now = now or datetime.now(UTC)
    name = preset or ("custom" if start or end else "today")
    if name == "today":
        midnight = now.astimezone(DISPLAY_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        return Window("today", midnight.astimezone(UTC), now)
    if name in ("7d", "30d"):
        # from the start of the hour 7 or 30 days ago: the grid's day cells then begin on whole
        # hours, so the computation reads the whole UTC days inside from the daily rollup (a
        # start at any second cuts every day's hour at the cell edge into minutes and raw
        # samples, and no day is whole: a month of 1,500 tags read hour by hour, 2-3x slower)
        back = (now - timedelta(days=7 if name == "7d" else 30)).replace(minute=0, second=0, microsecond=0)
        return Window(name, back, now)  # type: ignore[arg-type]
    if name != "custom":
        raise WindowError(f"未知的时间窗口 '{name}' / unknown window '{name}' "
                          f"(one of {', '.join(PRESETS)})")
    if not start or not end:
        raise WindowError("自定义窗口需要开始和结束时间 / a custom window needs a start and an end")
    lo, hi = _parse_local(start, "开始 start"), _parse_local(end, "结束 end")
    if hi <= lo:
        raise WindowError(f"结束时间 {local(hi)} 不晚于开始时间 {local(lo)} / the end must be after "
                          "the start")
    if lo >= now:
        raise WindowError(f"开始时间 {local(lo)} 在将来 / the start is in the future")
    if hi - lo > MAX_SPAN:
        raise WindowError("窗口最长一年 / a window spans at most one year")
    return Window("custom", lo, min(hi, now))
