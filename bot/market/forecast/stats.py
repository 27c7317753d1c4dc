"""Robust summaries the model is built from: weighted medians and empirical quantiles.

Medians, not means: resale prices have long tails (a mislisted size, a deadstock grail) and the
benchmark scores absolute error, whose best constant is the median.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value where half the weight lies on either side (``values`` must not be empty)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    half = sum(weights) / 2.0
    running = 0.0
    for index in order:
        running += weights[index]
        if running >= half:
            return values[index]
    return values[order[-1]]


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile of an already sorted, non-empty sequence."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    position = q * (len(sorted_values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] * (1.0 - fraction) + sorted_values[high] * fraction


def decay(age_days: float, half_life_days: float) -> float:
    """Weight of an observation ``age_days`` old when weight halves every ``half_life_days``."""
    return math.exp(-math.log(2.0) * max(age_days, 0.0) / half_life_days)
