"""Repository text in the encoding it was saved in: UTF-8 first, then a detected legacy charset.

Whether a file is text at all is git's rule (`file_filters.py`); every text file is read
here, never dropped. UTF-8, with or without a BOM, is read as is. A file that is UTF-8
but for a few bytes (a quote pasted from a Windows editor: no more bad bytes than valid
multi-byte letters) stays UTF-8, and those bytes are read as cp1252, the usual culprit. Anything else goes to
charset-normalizer, limited to the legacy encodings source files are saved in. Among
the candidates that fit the bytes about equally well the common one wins: on its own
the detector reads short French Latin-1 as Central European or Baltic (`très` → `trčs`),
and cp1252 is what such files are. When nothing fits: UTF-8 with replacement.
"""

from __future__ import annotations

import re

UTF8 = "utf-8"
UTF8_MIXED = "utf-8, a few bytes as cp1252"
UTF8_REPLACED = "utf-8 with replacement characters"

# In order of preference when candidates tie: Western European first (cp1252 reads Latin-1 too).
_CANDIDATES = (
    "cp1252",
    "cp1250",
    "cp1251",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "gb18030",
    "cp932",
    "euc_jp",
    "big5",
    "cp949",
)
_CHAOS_TIE = 0.02
_COHERENCE_TIE = 0.05
_ESCAPED = re.compile("[\udc80-\udcff]")
_ESCAPED_RUN = re.compile("[\udc80-\udcff]+")
_VALID_NON_ASCII = re.compile("[^\x00-\x7f\udc80-\udcff]")


def decode_text(data: bytes) -> tuple[str, str]:
    """`data` as text, and how it was read (`UTF8`, `UTF8_MIXED`, `UTF8_REPLACED`, "cp1252", …)."""
    try:
        return data.decode(UTF8).removeprefix("\ufeff"), UTF8
    except UnicodeDecodeError:
        pass
    escaped = data.decode(UTF8, "surrogateescape").removeprefix("\ufeff")
    if len(_ESCAPED.findall(escaped)) <= len(_VALID_NON_ASCII.findall(escaped)):
        return _ESCAPED_RUN.sub(_as_cp1252, escaped), UTF8_MIXED  # UTF-8 but for a few bytes
    encoding = _detect(data)
    if encoding is None:
        return data.decode(UTF8, "replace").removeprefix("\ufeff"), UTF8_REPLACED
    return data.decode(encoding, "replace"), encoding


def _as_cp1252(run: re.Match[str]) -> str:
    """Bytes that are not UTF-8 (escaped as lone surrogates) read as cp1252, U+FFFD where it has no character."""
    return bytes(ord(char) - 0xDC00 for char in run.group()).decode("cp1252", "replace")


def _detect(data: bytes) -> str | None:
    from charset_normalizer import from_bytes  # only for the rare file that is not UTF-8

    matches = list(from_bytes(data, cp_isolation=list(_CANDIDATES)))
    if not matches:
        return None
    best = matches[0]
    tied = [
        match
        for match in matches
        if match.chaos <= best.chaos + _CHAOS_TIE and match.coherence >= best.coherence - _COHERENCE_TIE
    ]
    names = [name for match in tied for name in match.could_be_from_charset if name in _CANDIDATES]
    return min(names, key=_CANDIDATES.index) if names else best.encoding
