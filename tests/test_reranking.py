"""The optional cross-encoder (RERANK_MODEL): a real sentence-transformers CrossEncoder on a real index.

No cross-encoder model ships here, so the tests use a stand-in (tests/cross_encoder.py): its
judgements mean nothing, but it loads, runs and scores like any CrossEncoder, which is what
the plumbing needs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runtime import open_runtime
from bot.settings import Settings
from knowledge.index.sqlite import SqliteIndex
from knowledge.ranking import Ranking
from knowledge.reranking import CrossEncoderReranker, RerankModelError
from knowledge.retriever import Retriever
from tests.cross_encoder import save_stand_in


@pytest.fixture(scope="session")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_stand_in(tmp_path_factory.mktemp("cross-encoder"))


async def test_the_cross_encoder_scores_the_candidates_the_ranking_stage_orders(
    slack_index: SqliteIndex, embedder, cross_encoder_dir: Path
) -> None:
    reranker = CrossEncoderReranker(str(cross_encoder_dir))
    ranking = Ranking(candidates=50, abstain_threshold=0.0, role_weights={})
    retriever = Retriever(slack_index, embedder, 0.6, ranking, reranker=reranker, rerank_depth=3)
    question = "how are failed payments retried?"
    hits = (await retriever.retrieve(question, 3)).hits
    plain = (await Retriever(slack_index, embedder, 0.6, ranking).retrieve(question, 3)).hits
    passages = [f"{hit.chunk.title}\n{hit.chunk.text}" for hit in plain]
    expected = sorted(zip(reranker.relevance_sync(question, passages), passages, strict=True), reverse=True)
    assert [f"{hit.chunk.title}\n{hit.chunk.text}" for hit in hits] == [passage for _, passage in expected]
    assert [hit.score for hit in hits] == pytest.approx([score for score, _ in expected])


def test_a_model_that_cannot_be_loaded_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(RerankModelError, match="set RERANK_MODEL to a local"):
        CrossEncoderReranker(str(tmp_path / "no-such-model"))


async def test_the_runtime_loads_the_cross_encoder_only_when_configured(tmp_path: Path, cross_encoder_dir) -> None:
    async with open_runtime(Settings(data_dir=tmp_path / "off")) as runtime:
        assert runtime.reranker() is None
    async with open_runtime(Settings(data_dir=tmp_path / "on", rerank_model=str(cross_encoder_dir))) as runtime:
        assert isinstance(runtime.reranker(), CrossEncoderReranker)
        assert runtime.reranker() is runtime.reranker()
