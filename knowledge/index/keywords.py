"""The keyword side of the embedded index: free text → the terms of an FTS5 MATCH query.

A question becomes its words and their camelCase parts, lower-cased, without stopwords,
each quoted, so FTS5 syntax in it (AND, NEAR, `*`, quotes, parentheses) is searched
for, never parsed; the index ORs them together.

The keyword budget: FTS5 scores every row that matches any term, so one common word
makes BM25 score a large part of the index (half of a 100k-chunk index, for some
words) while adding little to the ranking, since common terms carry little BM25 weight
(low IDF). `within_budget` therefore keeps the rarest terms whose matching rows add up
to the budget and leaves out the most common ones; the rarest term is always kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

MAX_QUERY_TERMS = 32

_STOPWORDS = frozenset(
    """
a about above after again all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each else few for
from further get got had has have having he her here hers him his how i if in into is it its
itself just let like me more most my no nor not now of off on once only or other our ours out
over own please same she should so some such than that the their theirs them then there these
they this those through to too under until up us very was we were what when where which while
who whom why will with would you your yours
""".split()
)

_WORD = re.compile(r"[^\W_]+")
_CAMEL_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def query_terms(text: str) -> list[str]:
    """Free text → FTS5 terms: its words and camelCase parts, quoted, without stopwords.

    Quoting makes every term a plain string, so FTS5 syntax in a question (AND, NEAR, `*`,
    quotes, parentheses) is searched for, never parsed. Empty when nothing is left.
    """
    terms: dict[str, None] = {}
    for word in _WORD.findall(text):
        for term in (word, *_CAMEL_PART.findall(word)):
            term = term.lower()
            if len(term) > 1 and term not in _STOPWORDS:
                terms.setdefault(f'"{term}"')
    return list(terms)[:MAX_QUERY_TERMS]


def within_budget(terms: list[str], budget: int, count_matches: Callable[[str, int], int]) -> list[str]:
    """The rarest terms whose matching rows add up to at most `budget` (the rarest always).

    `count_matches(term, limit)` is how many rows match `term`, counting at most `limit`.
    Terms with equally many rows keep their order in the question.
    """
    if len(terms) < 2:
        return terms
    counted = sorted((count_matches(term, budget + 1), position, term) for position, term in enumerate(terms))
    kept: list[str] = []
    rows = 0
    for count, _, term in counted:
        if kept and rows + count > budget:
            break
        kept.append(term)
        rows += count
    return kept
