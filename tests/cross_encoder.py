"""A stand-in cross-encoder, for the tests and for timing RERANK_MODEL where no trained one is installed.

The packaged all-MiniLM-L6-v2 with a fresh (seeded) relevance head: MiniLM-L6's size and
speed, so the cost a MiniLM cross-encoder such as ms-marco-MiniLM-L-6-v2 would have, but
its scores mean nothing. It loads, runs and scores like any CrossEncoder.
"""

from __future__ import annotations

from pathlib import Path


def save_stand_in(directory: Path) -> Path:
    """The stand-in saved as a CrossEncoder directory (`RERANK_MODEL`); the same weights every time."""
    import torch
    from sentence_transformers import CrossEncoder

    from knowledge.embedding import DEFAULT_MODEL, _offline_path

    torch.manual_seed(0)
    model = CrossEncoder(_offline_path(DEFAULT_MODEL), device="cpu", local_files_only=True, num_labels=1)
    model.save(str(directory))
    return directory
