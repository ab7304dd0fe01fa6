"""Words of a question that no source contains: found on a real index, told to the reader."""

from __future__ import annotations

from bot.answering.extractive import compose_extractive
from bot.answering.prompt import build_prompt
from knowledge.coverage import Unseen, candidate_terms, unseen_terms
from knowledge.documents import Chunk
from knowledge.index import SearchFilters, SearchHit
from knowledge.index.sqlite import SqliteIndex
from knowledge.ranking import Ranking
from knowledge.retriever import Retriever


def retriever(index: SqliteIndex, embedder) -> Retriever:
    return Retriever(index, embedder, 0.6, Ranking(candidates=50, abstain_threshold=0.35))


def test_common_english_and_chat_words_are_never_candidates() -> None:
    assert candidate_terms("pls any guidance rn on how payments survive a restart w/ nushell?") == ["nushell"]


def test_shorthand_and_stand_ins_for_the_askers_project_are_never_candidates() -> None:
    assert candidate_terms("`python -m mypkg.cli` from the cwd, or ourapp's cmdline?") == []
    assert candidate_terms("does it work with mypy?") == ["mypy"]


def test_a_pasted_error_s_paths_hosts_and_frames_are_the_askers_not_the_subject() -> None:
    pasted = (
        'File "/home/alice/acme-tools/src/acmetools/deployx.py", line 88, in deployctl\n'
        "ConnectionError: HTTPSConnectionPool(host='api.internal.acme.io', port=443) from C:\\acmeapp\\run.py, "
        "see https://wiki.acmecorp.dev/x or mail bob@acme.com. UsageError: bad target 'stagingg'"
    )
    assert candidate_terms(pasted) == ["connectionerror", "httpsconnectionpool", "usageerror"]
    assert candidate_terms("go log/slog: a custom Handler w/ nushell?") == ["slog", "nushell"]
    assert candidate_terms("-v clashes w/ our `-verbose` flag behind my nginx, nushell too") == ["nushell"]


def test_english_words_misspelt_the_common_ways_are_typos_not_names() -> None:
    typos = unseen_terms("does the handler recieve it on a seperate thread, privatly, evry time", []).corrections
    assert typos == {"recieve": "receive", "seperate": "separate", "privatly": "privately", "evry": "every"}
    names = unseen_terms("does it ship a redis, nushell, gunicorn, pino or nunjucks loader", []).names
    assert names == ("redis", "nushell", "gunicorn", "pino", "nunjucks")


def test_a_name_two_edits_from_a_candidates_word_is_not_its_typo_unless_long() -> None:
    prompts = Chunk("repo", "prompt.go", 0, "code", "prompt.go", "https://x/prompt.go", "prompt.go", "prompted twice")
    held = [SearchHit(prompts, 1.0)]
    assert unseen_terms("like survey or promptui?", held).names == ("promptui",)  # a library, not "prompted"
    annotations = Chunk("repo", "typing.md", 0, "code", "Typing", "https://x/typing", "typing.md", "Type annotations")
    long_typo = unseen_terms("tips for anotatoins?", [SearchHit(annotations, 1.0)]).corrections
    assert long_typo == {"anotatoins": "annotations"}  # ten letters: two edits (one left out, two swapped)


def test_forms_and_british_spellings_of_common_english_words_are_ordinary() -> None:
    question = "our binaries: the docs churns, the narrowest match, does it normalise colours? nushell too"
    assert candidate_terms(question) == ["nushell"]
    assert candidate_terms("monkeypatches w/ croniter") == ["monkeypatches", "croniter"]


def test_a_word_the_candidates_hold_in_another_form_is_seen_not_a_typo() -> None:
    typing = Chunk(
        "repo", "docs/typing.md", 0, "code", "Typing", "https://x/typing", "docs/typing.md", "Type annotations"
    )
    held = [SearchHit(typing, 1.0)]
    assert unseen_terms("any tips for annotating processors?", held) == Unseen()  # not "corrected" to "annotations"
    assert unseen_terms("any tips for annotatoins?", held).corrections == {"annotatoins": "annotations"}


async def test_a_name_no_source_contains_is_absent(slack_index, embedder) -> None:
    found = await retriever(slack_index, embedder).retrieve("how do we retry payments from nushell scripts?", 5)
    assert found.absent == ("nushell",)


async def test_words_the_sources_hold_and_their_typos_are_not_absent(slack_index, embedder) -> None:
    found = await retriever(slack_index, embedder).retrieve("where is the exponential bakcoff jitter for payments?", 5)
    assert found.hits and found.absent == ()


async def test_a_typo_is_searched_again_spelled_as_the_candidates_spell_it(slack_index, embedder) -> None:
    found = await retriever(slack_index, embedder).retrieve("bakcoff?", 5)
    assert found.hits[0].chunk.path == "payments/retry.py"
    assert found.hits[0].keyword_score > 0  # BM25 matched "backoff", which the question never spelled
    assert unseen_terms("bakcoff?", found.hits).corrections == {"bakcoff": "backoff"}


async def test_a_word_only_outside_the_askers_scope_is_absent(slack_index, embedder) -> None:
    pages_only = SearchFilters(sources=("confluence:ENG",))
    found = await retriever(slack_index, embedder).retrieve("which docs mention oauth?", 5, pages_only)
    assert found.absent == ("oauth",)
    assert (await retriever(slack_index, embedder).retrieve("which docs mention oauth?", 5)).absent == ()


async def test_the_llm_prompt_and_the_extractive_answer_name_the_absent_words(slack_index, embedder) -> None:
    found = await retriever(slack_index, embedder).retrieve("does the nushell plugin retry payments?", 5)
    prompt = build_prompt("openai/stub-model", found.query, found.hits, history_tokens=1500, absent=found.absent)
    assert 'no indexed source contains these words of the question: "nushell"' in prompt.messages[-1]["content"]
    assert compose_extractive(found).text.startswith("No indexed source mentions “nushell”")
