"""Untrusted text (sources, titles, links, questions) made safe to place inside the prompt's delimiters.

The prompt's tags carry a random id per prompt (`prompt.py`), so no text can close them by
guessing. On top of that, nothing that reads as a `<source`, `<sources` or `<question` tag
reaches the model as one, however it is spelled:

1. Normalise: NFKC (fullwidth `＜` becomes `<`, mathematical letters plain ones), line and
   paragraph separators become newlines, and zero-width, bidi, tag and other format
   characters (Unicode category Cf) and control characters other than tab and newline are
   removed.
2. Look for tag openers on a folded copy of the same length, where each look-alike of an
   ASCII letter or of `<` and `/` (Unicode's confusables, as `confusable_homoglyphs` ships
   them: Cyrillic `ѕ`, `о`, `с`, Greek `ο`, `‹` …) is that ASCII character, and where `<`
   and `/` may also be spelled as HTML entities, `\\u003c`, `\\x3c`, `%3c` or `\\/`.
3. Replace each opener found with `‹`, in the normalised text, so the model still reads
   what was written but never as a tag.

Header fields (titles, links) become one line and are HTML-escaped into tag attributes, so
a file name with newlines cannot add a line of its own above the real ones.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata

import regex
from confusable_homoglyphs import confusables

DEFUSED_OPENER = "‹"

_INVISIBLE = regex.compile(r"[[\p{Cc}\p{Cf}]--[\n\t]]", flags=regex.V1)  # control and format, but tab and newline
_LINE_BREAKS = str.maketrans({"\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"})
_OPENER = r"(?P<opener><|&lt;?|&#0*60;?|&#x0*3c;?|\\u0*3c|\\x3c|%3c)"
_SLASH = r"(?:\\*/|&#0*47;?|&#x0*2f;?|&sol;|\\u0*2f|%2f)?"
_TAG = re.compile(_OPENER + r"\s*" + _SLASH + r"\s*(?:sources?|question)\b", re.IGNORECASE)


def _fold_table() -> dict[int, str]:
    """Each non-ASCII single-character look-alike of an ASCII letter, `<`, `/` or `\\`, mapped to it."""
    table: dict[int, str] = {}
    for target in string.ascii_letters + "</\\":
        for entry in confusables.confusables_data.get(target, []):
            if len(entry["c"]) == 1 and not entry["c"].isascii():  # ASCII stays itself
                table.setdefault(ord(entry["c"]), target)
    return table


_FOLD = _fold_table()


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text.replace("\r\n", "\n")).translate(_LINE_BREAKS)
    return _INVISIBLE.sub("", text)


def _defuse(text: str) -> str:
    folded = text.translate(_FOLD)  # one character for one: positions in `folded` are positions in `text`
    pieces, position = [], 0
    for match in _TAG.finditer(folded):
        pieces += [text[position : match.start("opener")], DEFUSED_OPENER]
        position = match.end("opener")
    return "".join([*pieces, text[position:]])


def safe_text(text: str) -> str:
    """Free text for inside a tag: normalised, every tag-like opener defused."""
    return _defuse(normalize(text))


def safe_attribute(text: str) -> str:
    """A header field for a tag attribute: `safe_text` on one line, HTML-escaped."""
    return html.escape(" ".join(safe_text(text).split()), quote=True)
