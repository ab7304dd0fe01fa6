"""What this machine's CPU computes natively, for choosing a number format."""

from __future__ import annotations

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
