"""What this machine's CPU computes natively or fastest, for choosing a number format."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from pathlib import Path


@cache
def native_bfloat16() -> bool:
    """Whether the CPU has bfloat16 arithmetic (AVX512-BF16 or AMX); Linux's /proc/cpuinfo tells."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def seconds_for(work: Callable[[], object], rounds: int) -> float:
    """Wall time of `rounds` calls of `work`, after one untimed call (a kernel's first call sets it up)."""
    work()
    start = time.perf_counter()
    for _ in range(rounds):
        work()
    return time.perf_counter() - start
