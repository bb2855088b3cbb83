"""A tiny benchmark harness: medians of repeated runs, reported as ratios to a baseline from the same run.

The machine is shared and noisy, so absolute times mean little; a ratio to a baseline measured
moments before, in the same process, is what we compare across commits.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_seconds(work: Callable[[], object], *, repeat: int = 7, number: int = 20) -> float:
    """Median over `repeat` rounds of the mean time of `number` calls."""
    work()  # warm caches and connections
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            work()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def report(name: str, seconds: float, baseline_name: str, baseline: float) -> None:
    ratio = seconds / baseline
    line = f"BENCH {name}: {ratio:.2f}x {baseline_name}"
    print(f"{line} ({seconds * 1000:.2f} ms vs {baseline * 1000:.2f} ms)")  # noqa: T201
