"""The real embedder: unit vectors, order kept across its internal batches, clear errors."""

import numpy as np
import pytest

from knowledge.embedding import EmbeddingModelError, SentenceTransformerEmbedder


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
