"""The ranking stage above the index: role priors, one chunk per document, query expansion."""

from __future__ import annotations

import pytest

from knowledge.documents import Chunk
from knowledge.index import SearchHit
from knowledge.query import expand_query
from knowledge.ranking import Ranking
from knowledge.roles import file_role, role_wanted, roles_asked_about
from knowledge.versions import versioned


def hit(
    path: str,
    score: float,
    ordinal: int = 0,
    kind: str = "code",
    similarity: float = 0.5,
    source: str = "repo",
    sides: tuple[float, float] = (0.0, 0.0),
) -> SearchHit:
    """A candidate; `sides`: its normalized (keyword, vector) scores."""
    chunk = Chunk(
        source=source,
        document_id=path,
        ordinal=ordinal,
        kind=kind,
        title=path,
        url=f"u/{path}#{ordinal}",
        path=path,
        text="text",
    )  # type: ignore[arg-type]
    return SearchHit(chunk, score, *sides, similarity=similarity)


RANKING = Ranking(candidates=50, abstain_threshold=0.35)


@pytest.mark.parametrize(
    ("path", "role"),
    [
        ("src/pkg/core.py", "code"),
        ("internal/build/build.go", "code"),
        ("altsrc/flag.go", "code"),
        ("tests/test_core.py", "test"),
        ("flag_test.go", "test"),
        ("web/app.spec.ts", "test"),
        ("testdata/expected.md", "test"),
        ("pkg/conftest.py", "test"),
        ("CHANGES.md", "changelog"),
        ("docs/CHANGELOG.md", "changelog"),
        ("HISTORY.rst", "changelog"),
        ("docs/CONTRIBUTING.md", "meta"),
        (".github/workflows/ci.yml", "meta"),
        ("LICENSE.txt", "meta"),
        ("docs/options.md", "docs"),
        ("README.md", "docs"),
        ("docs/conf.py", "docs"),
        ("zz_generated.flags.go", "generated"),
        ("api/v1/service.pb.go", "generated"),
        ("proto/service_pb2.py", "generated"),
        ("godoc-current.txt", "generated"),
        ("web/package-lock.json", "generated"),
        ("index.d.ts", "generated"),
        ("types/pool.d.mts", "generated"),
        ("src/pool.ts", "code"),
        ("docs/v2/generated-help-text.md", "docs"),
    ],
)
def test_file_roles(path: str, role: str) -> None:
    assert file_role(path) == role


def test_a_confluence_page_is_docs() -> None:
    assert file_role("ENG/Runbooks/Deploy", "page") == "docs"


def test_tests_and_changelogs_rank_below_the_implementation_unless_asked_about() -> None:
    candidates = [hit("tests/test_retry.py", 1.0), hit("CHANGES.md", 0.9), hit("src/retry.py", 0.7)]
    assert [h.chunk.path for h in RANKING.rank("how are retries scheduled", candidates, 3)] == [
        "src/retry.py",
        "tests/test_retry.py",
        "CHANGES.md",
    ]
    assert RANKING.rank("is there a test for retries", candidates, 1)[0].chunk.path == "tests/test_retry.py"
    assert RANKING.rank("when did retries change", candidates, 1)[0].chunk.path == "CHANGES.md"
    assert roles_asked_about("which release added it? changelog pls") == {"changelog"}
    assert roles_asked_about("since v2 is it gone?") == {"changelog"}
    assert roles_asked_about("how do i move the version flag to -V") == frozenset()  # the flag, not history
    assert roles_asked_about("how do the maintainers cut a release?") == {"meta", "changelog"}
    assert roles_asked_about("found a vuln, where do i report it privately") == {"meta"}
    assert roles_asked_about("opening a PR upstream, what do they want in it") == {"meta"}


def test_a_question_that_asks_for_the_code_or_the_docs_counts_the_other_for_less() -> None:
    assert role_wanted("where is the max size enforced? build keeps failing") == "code"
    assert role_wanted("is the retry count hardcoded somewhere") == "code"
    assert role_wanted("it drops the trailing slash, bug or intended?") == "code"
    assert role_wanted("how do i turn on zsh completion for our cli") == "docs"
    assert role_wanted("any example of a custom loader") == "docs"
    assert role_wanted("how do i override it, and where is the default set?") is None  # both: no lean
    assert role_wanted("does it retry on a 503") is None
    candidates = [hit("docs/retries.md", 1.0), hit("src/retry.py", 0.8)]
    assert RANKING.rank("where is the backoff computed", candidates, 1)[0].chunk.path == "src/retry.py"
    assert RANKING.rank("how do i tune the backoff", candidates, 1)[0].chunk.path == "docs/retries.md"
    assert RANKING.rank("backoff between retries", candidates, 1)[0].chunk.path == "docs/retries.md"


def test_a_question_for_a_test_counts_what_it_tests_for_less() -> None:
    assert role_wanted("is there a test for the retry backoff?") == "test"
    assert role_wanted("do we have a unit test where the default is set") == "test"  # a test wins over code
    assert role_wanted("how do i test my retry wrapper") == "docs"
    assert role_wanted("is there a test client for the cli?") is None  # a testing feature, not a test
    candidates = [hit("src/retry.py", 1.0), hit("tests/test_retry.py", 0.8)]
    assert RANKING.rank("is there a test for the backoff", candidates, 1)[0].chunk.path == "tests/test_retry.py"
    assert RANKING.rank("does the backoff have tests", candidates, 1)[0].chunk.path == "src/retry.py"


def test_a_source_can_weigh_its_own_roles() -> None:
    ranking = Ranking(candidates=50, abstain_threshold=0.35, source_role_weights={"specs": {"test": 1.0}})
    for source, best in (("specs", "spec/payments.md"), ("repo", "src/payments.py")):
        candidates = [hit("spec/payments.md", 1.0, source=source), hit("src/payments.py", 0.7, source=source)]
        assert ranking.rank("how are payments retried", candidates, 1)[0].chunk.path == best


def test_one_chunk_per_document_until_documents_run_out() -> None:
    candidates = [hit("a.py", 1.0, 0), hit("a.py", 0.95, 1), hit("a.py", 0.9, 2), hit("b.py", 0.5), hit("c.py", 0.4)]
    ranked = RANKING.rank("q", candidates, 3)
    assert [(h.chunk.path, h.chunk.ordinal) for h in ranked] == [("a.py", 0), ("b.py", 0), ("c.py", 0)]
    filled = RANKING.rank("q", candidates, 5)
    assert [(h.chunk.path, h.chunk.ordinal) for h in filled][3:] == [("a.py", 1), ("a.py", 2)]


def test_a_document_scores_by_its_best_keyword_and_best_vector_match_even_in_different_chunks() -> None:
    # a.py names the question's words in one window and means it in another; b.py half-matches both in one
    candidates = [
        hit("b.py", 0.8, sides=(0.8, 0.8)),
        hit("a.py", 0.6, 1, sides=(0.0, 1.0)),
        hit("a.py", 0.4, 0, sides=(1.0, 0.0)),
        hit("c.py", 0.3, sides=(0.3, 0.3)),
    ]
    fused = RANKING.rank("q", candidates, 3, alpha=0.6)
    assert [(h.chunk.path, h.chunk.ordinal) for h in fused] == [("a.py", 1), ("b.py", 0), ("c.py", 0)]
    assert [h.score for h in fused] == pytest.approx([1.0, 0.8, 0.3])
    # scores that are not fused from the two sides (a cross-encoder's): the best chunk decides
    assert [h.chunk.path for h in RANKING.rank("q", candidates, 3)] == ["b.py", "a.py", "c.py"]
    # the prior still applies to the fused document score
    tests_first = [hit("tests/test_a.py", 0.9, sides=(1.0, 1.0)), hit("a.py", 0.5, sides=(0.5, 0.5))]
    assert RANKING.rank("how does a work", tests_first, 1, alpha=0.6)[0].chunk.path == "a.py"


def test_the_page_of_an_older_version_ranks_below_the_newer_unless_that_version_is_asked_for() -> None:
    candidates = [hit("docs/v1/flags.md", 1.0), hit("docs/v2/flags.md", 0.8), hit("docs/v1/only-in-v1.md", 0.9)]
    assert [h.chunk.path for h in RANKING.rank("how do flags work", candidates, 3)] == [
        "docs/v1/only-in-v1.md",
        "docs/v2/flags.md",
        "docs/v1/flags.md",
    ]
    assert RANKING.rank("in v1 how do flags work", candidates, 1)[0].chunk.path == "docs/v1/flags.md"


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("docs/v1/examples/flags.md", ("docs/examples/flags.md", (1,))),
        ("versioned_docs/version-2.3/intro.md", ("versioned_docs/intro.md", (2,))),
        ("docs/3.x/intro.md", ("docs/intro.md", (3,))),
        ("docs/2024/retro.md", None),
        ("flag_v2.go", None),
        ("docs/http2.md", None),
    ],
)
def test_version_folders(path: str, key: tuple[str, tuple[int, ...]] | None) -> None:
    assert versioned(path) == key


def test_abstains_on_no_hits_a_weak_best_similarity_or_absent_words_and_no_close_passage() -> None:
    assert RANKING.abstains([])
    assert RANKING.abstains([hit("a.py", 1.0, similarity=0.2)])
    assert not RANKING.abstains([hit("a.py", 1.0, similarity=0.2), hit("b.py", 0.5, similarity=0.5)])
    assert not RANKING.abstains([hit("a.py", 1.0, similarity=0.5)], absent=("loguru",))
    calibrated = Ranking(candidates=50, abstain_threshold=0.35, absent_ceiling=0.6)
    assert calibrated.abstains([hit("a.py", 1.0, similarity=0.5)], absent=("loguru",))
    assert not calibrated.abstains([hit("a.py", 1.0, similarity=0.7)], absent=("footgun",))


def test_chat_shorthand_and_abbreviations() -> None:
    assert expand_query("where do we set the UA w/ a cfg rn pls") == (
        "where do we set the UA w/ a cfg (user agent with config configuration)"
    )
    assert expand_query("plain question") == "plain question"
    assert expand_query("pls") == "pls"  # nothing left: keep what was typed
