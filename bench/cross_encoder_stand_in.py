"""A stand-in cross-encoder for timing RERANK_MODEL where no trained one is installed.

    python bench/cross_encoder_stand_in.py   # → bench/.work/cross-encoder-stand-in

The packaged all-MiniLM-L6-v2 with a fresh (seeded) relevance head: MiniLM-L6's size and
speed, the cost a MiniLM cross-encoder such as ms-marco-MiniLM-L-6-v2 would have, but its
scores mean nothing. Use it for `retrieval_latency.py --rerank-model`, never for quality.
"""

from __future__ import annotations

from pathlib import Path

WORK = Path(__file__).parent / ".work" / "cross-encoder-stand-in"


def main() -> None:
    import torch
    from sentence_transformers import CrossEncoder

    from knowledge.embedding import DEFAULT_MODEL, _offline_path

    torch.manual_seed(0)
    model = CrossEncoder(_offline_path(DEFAULT_MODEL), device="cpu", local_files_only=True, num_labels=1)
    model.save(str(WORK))
    print(WORK)


if __name__ == "__main__":
    main()
