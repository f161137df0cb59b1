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

    if spec.kind == "state_machine":
        return _state_machine(spec, seed=seed)

    if spec.kind == "alarm_bits":
        return _alarm_bits(spec, seed=seed)

    # random_walk: one step per elapsed second, reproducible whatever the read rate.
    state = {"x": float(base), "t": 0}

    def walk(t: float) -> float:
        while state["t"] < int(t):
            state["x"] = _clamp(state["x"] + rng.uniform(-spec.step, spec.step), spec)
            state["t"] += 1
        return state["x"]

    return walk


def _state_machine(spec: SimSpec, *, seed: int) -> Generator:
    """Cycle through ``choices`` in order (a machine's idle → running → cleaning → ...), each
    state dwelling ``period_s`` × U(0.5, 1.5): real machines do not change state on a clock."""
    states = spec.choices or [spec.value]
    rng = random.Random(seed)
    ends: list[float] = []  # cumulative end time of each dwell, extended on demand

    def state(t: float) -> float | int | bool | str:
        while not ends or ends[-1] <= t:
            ends.append((ends[-1] if ends else 0.0) + spec.period_s * rng.uniform(0.5, 1.5))
        # bisect would do, but t only moves forward in practice, and lists stay short
        for i in range(len(ends) - 1, -1, -1):
            if i == 0 or ends[i - 1] <= t:
                return states[i % len(states)]
        return states[0]

    return state


def _alarm_bits(spec: SimSpec, *, seed: int) -> Generator:
    """An alarm word: ``max`` bits (default 8), each active with probability ``amplitude``
    (default 0.1) during each ``period_s`` window; deterministic per window and seed."""
    bits = int(spec.max) if spec.max is not None else 8
    p = spec.amplitude or 0.1

    def word(t: float) -> int:
        rng = random.Random(seed * 1_000_003 + int(t // spec.period_s))
        return sum(1 << b for b in range(bits) if rng.random() < p)

    return word
