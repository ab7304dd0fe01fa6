"""A stand-in cross-encoder for timing RERANK_MODEL where no trained one is installed.

    python bench/cross_encoder_stand_in.py   # → bench/.work/cross-encoder-stand-in

MiniLM-L6's size and speed with meaningless scores (tests/cross_encoder.py): use it for
`retrieval_latency.py --rerank-model`, never for quality.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.cross_encoder lives in the checkout

from tests.cross_encoder import save_stand_in  # noqa: E402

WORK = HERE / ".work" / "cross-encoder-stand-in"

if __name__ == "__main__":
    print(save_stand_in(WORK))
