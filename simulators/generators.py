"""Value generators that make simulated devices move plausibly over time.

Each generator is a function of elapsed seconds returning an engineering value; the
protocol servers encode it. Generators are deterministic for a given seed, so tests can
reproduce a run, and stateful ones (random walk, counter) advance only when asked.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from device_profiles.base import SimSpec

Generator = Callable[[float], float | int | bool | str]


def _clamp(x: float, spec: SimSpec) -> float:
    if spec.min is not None:
        x = max(spec.min, x)
    if spec.max is not None:
        x = min(spec.max, x)
    return x


def make_generator(spec: SimSpec, *, seed: int = 0) -> Generator:
    rng = random.Random(seed)
    base = spec.value

    def noisy(x: float) -> float:
        return x + (rng.gauss(0.0, spec.noise) if spec.noise else 0.0)

    if spec.kind == "constant":
        return lambda t: base

    if spec.kind == "sine":
        b = float(base)
        return lambda t: _clamp(noisy(b + spec.amplitude * math.sin(2 * math.pi * t / spec.period_s)), spec)

    if spec.kind == "ramp":
        lo = spec.min if spec.min is not None else float(base)
        hi = spec.max if spec.max is not None else lo + spec.amplitude
        return lambda t: lo + (hi - lo) * ((t % spec.period_s) / spec.period_s)

    if spec.kind == "counter":
        b = float(base)
        return lambda t: b + spec.rate_per_s * t

    if spec.kind == "toggle":
        start = bool(base)
        return lambda t: start ^ (int(t // spec.period_s) % 2 == 1)

    if spec.kind == "choice":
        choices = spec.choices or [base]
        return lambda t: choices[int(t // spec.period_s) % len(choices)]

    # random_walk: one step per elapsed second, reproducible whatever the read rate.
    state = {"x": float(base), "t": 0}

    def walk(t: float) -> float:
        while state["t"] < int(t):
            state["x"] = _clamp(state["x"] + rng.uniform(-spec.step, spec.step), spec)
            state["t"] += 1
        return state["x"]

    return walk
