"""Which words of a question the sources never use: a signal that transfers across corpora.

On one library everything is about the same topic, so similarity cannot tell "about
this library but not in it" from "in it" (docs/benchmarks.md). A name the sources never
mention can: "in loguru, how do I rotate…" asked of structlog's repository, "does jinja
ship a RedisLoader" asked of Jinja's. A word counts as absent when it is

- uncommon in English, in any of its forms or spellings (common words like "guidance",
  "survives", "binaries" or "normalise" are just how people write; a codebase need not use
  them), and neither shorthand the query spells out ("cwd") nor a stand-in for the asker's
  own project ("mypkg", "myapp"),
- not the asker's own: a pasted error's paths, hosts, URLs, traceback frames and quoted
  values name their setup, not the subject, and so does "our …" ("-v clashes w/ our
  verbose flag"),
- not in the candidates in another form ("annotating" where they say "annotations"),
- not a typo: of a word in the candidates ("seperator" is "separator"), or of an English
  word, with two letters swapped, one vowel for another or a vowel left out ("recieve",
  "seperate", "privatly"),
- and matched by no chunk the asker may see (a one-term keyword query, inside the same
  filters as the question, so it works alike on every backend).

The answerer tells the LLM which words are absent, so its own "not in the sources"
verdict has the fact it needs; extractive answers say it to the reader.

A typo is a correction instead ("timout" → "timeout"): the retriever searches the keyword
side again with it spelled right, since BM25 matches no misspelling.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import snowballstemmer
from rapidfuzz import process
from rapidfuzz.distance import OSA
from snowballstemmer.basestemmer import BaseStemmer

from knowledge.index import SearchFilters, SearchHit, SearchIndex
from knowledge.index.keywords import query_terms
from knowledge.query import is_abbreviation, is_filler

COMMON_ZIPF = 3.0
"""Words at or above this Zipf frequency in English (about once per million words) are ordinary prose."""
VERY_COMMON_ZIPF = 5.0
"""About once per 100,000 words: "every", "have", "from"."""
MIN_LENGTH = 3
_VOWELS = "aeiou"
_WORD = re.compile(r"[a-z0-9]+")
# What a pasted error carries from the asker's machine, not the subject: URLs, e-mail
# addresses, host names, file paths ("/home/alice/…", "src/acme/cli.py": a slash in front,
# two or more, or a file's extension), traceback frame lines ('File "…", line 88, in deploy')
# and the quoted values errors echo back ("bad target 'stagingg'"; `code` in backticks stays).
_ENVIRONMENT = re.compile(
    r"""\b[a-z][a-z0-9+.-]*://\S+"""
    r"""|[\w.+-]+@[\w-]+(?:\.[\w-]+)+"""
    r"""|\b(?:[a-z0-9-]+\.)+(?:com|io|net|org|dev|app|cloud|internal|local|corp|lan)\b"""
    r"""|File "[^"]*", line \d+(?:, in \S+)?"""
    r"""|(?<!\w)'[^'\s]{1,40}'"""
    r'|"[^"\s]{1,40}"'
    r"""|(?<![\w.])(?:[a-z]:\\|~|\.{1,2})?[/\\][\w.@+-]+(?:[/\\][\w.@+-]+)*"""
    r"""|[\w.@+-]+(?:[/\\][\w.@+-]+){2,}"""
    r"""|[\w.@+-]+[/\\][\w@+-]+\.[a-z0-9]{1,5}\b""",
    re.IGNORECASE,
)
# "our verbose flag", "behind my nginx": what follows the asker's possessive is their own thing.
_THEIRS = re.compile(r"""\b(?:our|my)\s+[`'"-]*[\w-]+""", re.IGNORECASE)
_PLACEHOLDER = re.compile(
    r"^(my|our)(pkg|package|app|cli|tool|project|proj|lib|module|mod|service|svc|api|cmd|command|prog|program"
    r"|script|server|bot|site|repo|thing)s?$"
)


@cache
def _english():
    from wordfreq import zipf_frequency  # 1 s to import: loaded on the first question, not at start-up

    return zipf_frequency


def _zipf(word: str) -> float:
    return _english()(word, "en", wordlist="large")


def is_common_english(word: str) -> bool:
    return _zipf(word) >= COMMON_ZIPF


def typo_budget(word: str) -> int:
    """Edits a misspelling of `word` may be away from the real word: none for short words,
    whose near neighbours are other words ("cwd" / "cmd"), and one up to eight letters, where
    two would make a library of a word ("promptui" / "prompted")."""
    return 0 if len(word) < 5 else 1 if len(word) <= 8 else 2


def candidate_terms(question: str) -> list[str]:
    """The question's uncommon words, each once, lower case; none from the asker's environment."""
    terms = (term.strip('"') for term in query_terms(_THEIRS.sub(" ", _ENVIRONMENT.sub(" ", question))))
    return [t for t in terms if len(t) >= MIN_LENGTH and not t.isdigit() and not _ordinary(t)]


def _ordinary(term: str) -> bool:
    return (
        is_filler(term)
        or is_abbreviation(term)
        or bool(_PLACEHOLDER.match(term))
        or any(is_common_english(form) for form in _forms(term))
    )


# Inflections back to the word they inflect: ending, what replaces it.
_INFLECTIONS = (
    ("ies", "y"), ("ied", "y"), ("es", ""), ("s", ""), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
    ("er", ""), ("er", "e"), ("est", ""), ("est", "e"), ("ly", ""),
)  # fmt: skip
# British spellings to American ones, which the English word list counts more often.
_BRITISH = (
    (re.compile(r"is(e|ed|es|ing|ation|ations|er|ers)$"), r"iz\1"),
    (re.compile(r"yse(s|d)?$"), r"yze\1"),
    (re.compile(r"our(s|ed|ing)?$"), r"or\1"),
)


def _forms(term: str) -> set[str]:
    """`term` and the words it may be a form of: its stem without an inflection ("binaries" →
    "binary", "churns" → "churn", "narrowest" → "narrow"; "stopping" → "stop") and its American
    spelling ("normalise" → "normalize")."""
    forms = {term, *(pattern.sub(replacement, term) for pattern, replacement in _BRITISH)}
    for word in list(forms):
        for ending, replacement in _INFLECTIONS:
            if word.endswith(ending) and len(base := word[: -len(ending)]) >= MIN_LENGTH:
                forms.add(base + replacement)
                if len(base) > MIN_LENGTH and base[-1] == base[-2] and base[-1] not in "ls":
                    forms.add(base[:-1])  # a doubled consonant: "stopping" → "stop"
    return forms


def _misspelt_english(term: str) -> str | None:
    """The ordinary English word the commonest typos make of `term`: two neighbouring letters
    swapped ("recieve" → "receive"), one vowel for another ("seperate" → "separate") or a vowel
    left out ("privatly" → "privately", "evry" → "every"). The sources may hold the word only in
    another form ("received"), so this is checked on its own. Other edits are not: a consonant
    more or less turns names into words ("nushell" → "nutshell"), and so does a vowel in a short
    name ("pino" → "piano")."""
    if len(term) < 4:
        return None
    gaps = (term[:i] + v + term[i:] for i in range(1, len(term) + 1) for v in _VOWELS)
    if len(term) < 5:  # "pino" is not "piano": only the commonest words lose a vowel this short
        return next((word for word in gaps if _zipf(word) >= VERY_COMMON_ZIPF), None)
    swaps = (term[:i] + term[i + 1] + term[i] + term[i + 2 :] for i in range(len(term) - 1))
    vowels = (term[:i] + v + term[i + 1 :] for i, c in enumerate(term) if c in _VOWELS for v in _VOWELS if v != c)
    return next((word for word in (*swaps, *vowels, *gaps) if is_common_english(word)), None)


def _text(hits: Iterable[SearchHit]) -> str:
    return "\n".join(f"{hit.chunk.title}\n{hit.chunk.text}\n{hit.chunk.keywords}".lower() for hit in hits)


@cache
def _stemmer() -> BaseStemmer:
    return snowballstemmer.stemmer("english")


def _inflected(term: str, words: set[str]) -> bool:
    """Whether `words` hold `term` in another form ("annotating", "annotations"): a typo
    correction would otherwise turn the one into the other. Only words that begin alike are
    stemmed, so this stays cheap."""
    stem = _stemmer().stemWord(term)
    return len(stem) >= 4 and any(_stemmer().stemWord(w) == stem for w in words if w[:4] == term[:4])


def _correction(term: str, words: set[str]) -> str | None:
    budget = typo_budget(term)
    if budget == 0:
        return None
    found = process.extractOne(term, words, scorer=OSA.distance, score_cutoff=budget)
    return found[0] if found else None


@dataclass(frozen=True)
class Unseen:
    """The question's uncommon words that the candidates do not contain."""

    corrections: Mapping[str, str] = field(default_factory=dict)
    """Typo → the candidates' word, or the English word, it misspells."""
    names: tuple[str, ...] = ()
    """The rest: words to look for in the whole index (`absent_terms`)."""


def unseen_terms(question: str, candidates: Sequence[SearchHit]) -> Unseen:
    terms = candidate_terms(question)
    text = _text(candidates) if terms else ""
    unseen = [t for t in terms if t not in text]  # a substring is enough to count as seen
    if not unseen:
        return Unseen()
    words = set(_WORD.findall(text))
    unseen = [t for t in unseen if not _inflected(t, words)]
    corrections = {t: word for t in unseen if (word := _correction(t, words) or _misspelt_english(t))}
    return Unseen(corrections, tuple(t for t in unseen if t not in corrections))


async def absent_terms(
    names: Sequence[str], vector: np.ndarray, index: SearchIndex, filters: SearchFilters = SearchFilters()
) -> tuple[str, ...]:
    """The words no chunk in scope contains."""
    # alpha 0: the keyword side alone, which finds a chunk exactly when one holds the term
    found = await asyncio.gather(*(index.query(term, vector, 1, 0.0, filters) for term in names))
    return tuple(term for term, hits in zip(names, found, strict=True) if not hits)
