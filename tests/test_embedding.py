"""The real embedder: unit vectors, order kept across its internal batches, clear errors."""

import numpy as np
import pytest

from knowledge.embedding import EmbeddingModelError, SentenceTransformerEmbedder, TracedSingleText


async def test_batched_embedding_keeps_the_order_of_the_texts(embedder) -> None:
    texts = [f"{'word ' * (n % 7)}text number {n}" for n in range(75)]  # several batches, mixed lengths
    vectors = await embedder.embed(texts)
    assert vectors.shape == (75, embedder.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    one_by_one = np.stack([embedder.embed_sync([text])[0] for text in texts[:5]])  # one text: float32
    same = vectors[:5] @ one_by_one.T
    assert (same.argmax(axis=1) == np.arange(5)).all()  # each row is its own text's
    assert same.diagonal().min() > 0.9999  # a batch may run in bfloat16 where the CPU has it
    assert (await embedder.embed([])).shape == (0, embedder.dimension)


def test_a_model_that_cannot_be_loaded_offline_names_the_setting(tmp_path) -> None:
    with pytest.raises(EmbeddingModelError, match="EMBEDDING_MODEL"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"), 32)
    with pytest.raises(EmbeddingModelError, match="EMBEDDING_MODEL"):
        SentenceTransformerEmbedder("some-org/not-on-this-machine", 32)


async def test_one_text_is_embedded_through_a_frozen_trace_that_reproduces_the_model(embedder) -> None:
    texts = ["where is the retry limit set?", "x", "timeout " * 400]  # the last one is cut at 256 pieces
    await embedder.prepare_for_questions()
    one_by_one = np.stack([embedder.embed_sync([text])[0] for text in texts])
    assert embedder._single._graph is not None  # the trace is what answered
    eager = embedder._model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    assert (one_by_one * eager).sum(axis=1).min() > TracedSingleText.AGREEMENT  # bfloat16 where faster
    assert np.allclose(np.linalg.norm(one_by_one, axis=1), 1.0, atol=1e-5)


def test_a_trace_that_does_not_reproduce_the_model_is_not_used(embedder) -> None:
    class Drifted:
        """The real model, whose `encode` disagrees with what its trace computes."""

        def __init__(self, model) -> None:
            self.model = model

        def __getattr__(self, name):
            return getattr(self.model, name)

        def __call__(self, features):
            return self.model(features)

        def encode(self, texts, **options):
            return -self.model.encode(texts, **options)

    single = TracedSingleText(Drifted(embedder._model))
    single.prepare()
    assert single.embed("where is the retry limit set?") is None
