"""How every benchmark here reports latency: p50 and p95 of milliseconds, computed one way."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def p50_p95(milliseconds: Sequence[float]) -> tuple[float, float]:
    if not milliseconds:
        return float("nan"), float("nan")
    p50, p95 = np.percentile(milliseconds, [50, 95])
    return float(p50), float(p95)


def p50_p95_text(milliseconds: Sequence[float]) -> str:
    p50, p95 = p50_p95(milliseconds)
    return f"p50 {p50:6.1f} ms   p95 {p95:6.1f} ms"
