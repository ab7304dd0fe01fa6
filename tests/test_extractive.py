"""Extractive answers: quotes that render, citations in order, abstention on weak retrieval."""

from bot.answering.extractive import NOT_FOUND, compose_extractive
from knowledge.documents import Chunk
from knowledge.index import SearchHit
from knowledge.retriever import Retrieval


def hit(text: str, similarity: float, kind: str = "code", n: int = 1) -> SearchHit:
    chunk = Chunk(
        source="s",
        document_id=f"d{n}",
        ordinal=0,
        kind=kind,
        title=f"doc {n}",
        url=f"https://example.com/{n}",
        path=f"d{n}",
        text=text,
    )
    return SearchHit(chunk, score=1.0 / n, similarity=similarity)


def test_quotes_code_in_fences_and_snippets_with_fences_as_quotes() -> None:
    hits = [
        hit("def retry():\n    pass", 0.7),
        hit("Run:\n```bash\nmake\n```", 0.6, n=2),
        hit("Prose.", 0.5, "page", 3),
    ]
    answer = compose_extractive(Retrieval("retry", hits, abstain=False))
    assert not answer.abstained
    assert "[1] doc 1\n```\ndef retry():\n    pass\n```" in answer.text
    assert "[2] doc 2\n> Run:\n> ```bash" in answer.text
    assert "[3] doc 3\n> Prose." in answer.text
    assert [c.n for c in answer.citations] == [1, 2, 3] and answer.cited_ranks == {1, 2, 3}


def test_weak_retrieval_abstains_with_the_nearest_links() -> None:
    answer = compose_extractive(Retrieval("q", [hit("x", 0.2), hit("y", 0.1, n=2)], abstain=True))
    assert answer.abstained and answer.text == f"{NOT_FOUND} The nearest matches: [1], [2]."
    assert [c.url for c in answer.citations] == ["https://example.com/1", "https://example.com/2"]
    assert compose_extractive(Retrieval("q", [], abstain=True)).text == NOT_FOUND


def test_an_abstention_over_absent_words_names_them_first() -> None:
    answer = compose_extractive(Retrieval("q", [hit("x", 0.5)], abstain=True, absent=("loguru",)))
    assert (
        answer.abstained
        and answer.text == f"No indexed source mentions “loguru”. {NOT_FOUND} The nearest matches: [1]."
    )
