"""The frame of the hostile-input targets (see `tests.hostile.targets`): what a check returns,
what it may never do, and JSON documents mutated from a valid one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

T0 = 1764403200000


class Crash(AssertionError):
    """What the product must never do with any input."""


@dataclass(frozen=True, slots=True)
class Outcome:
    accepted: bool
    reason: str  # the kind of what was accepted, or the reason of the rejection


@dataclass(frozen=True)
class Target:
    name: str
    inputs: st.SearchStrategy[Any]
    check: Callable[[Any], Outcome]


def reason_of(text: str, what: str) -> str:
    if not text.strip():
        raise Crash(f"{what}: rejected without a reason")
    if len(text) > 8000:
        raise Crash(f"{what}: a reason of {len(text)} characters (unbounded detail)")
    return text


# -- JSON values and documents ---------------------------------------------------------------

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(["", "good", "bad", "data", "birth", "ent-a", "gw-a", "dev-1", "1", "ʼ", "\x00"]),
)
JSON_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)


@st.composite
def mutated(draw: st.DrawFn, doc: Any) -> Any:
    """``doc`` with some of its parts replaced, removed, repeated or added: from untouched (a
    quarter of the cases) to thoroughly wrong, so that the inputs reach every branch."""
    rate = draw(st.sampled_from([0, 1, 3, 10]))  # percent of the parts changed
    return draw(_mutate(doc, rate, 0))


@st.composite
def _mutate(draw: st.DrawFn, doc: Any, rate: int, depth: int) -> Any:
    def hit() -> bool:
        return rate > 0 and draw(st.integers(0, 99)) < rate

    if depth > 0 and hit():
        return draw(JSON_VALUES)
    if isinstance(doc, dict):
        out = {}
        for key, value in doc.items():
            if not hit():  # else removed
                out[key] = draw(_mutate(value, rate, depth + 1))
        if hit():
            out[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        return out
    if isinstance(doc, list):
        items = [draw(_mutate(v, rate, depth + 1)) for v in doc]
        return items * draw(st.integers(0, 3)) if items and hit() else items
    return draw(_SCALARS) if hit() else doc
