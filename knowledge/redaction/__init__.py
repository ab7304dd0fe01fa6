"""Secret redaction: every document's secrets are replaced by a marker before chunking.

`knowledge/sync.py` runs `redact_document` on each document of every source, so what is
chunked, embedded, stored in the index and later quoted to people or sent to an LLM
holds `[redacted: AWS secret key]` where the key was. Each secret is replaced within its
line (a private key's block keeps its line breaks), so the rest of the file stays
searchable and line numbers in links stay right.

Detection is detect-secrets' plugins (detectors.py) plus lorebot's rules for what they
miss (rules.py); values that only stand in for a secret (`changeme`, `${TOKEN}`, …) are
kept (placeholders.py). Nothing here does I/O or logs a value.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from knowledge.documents import Document
from knowledge.redaction.detectors import keyword_findings, token_findings
from knowledge.redaction.findings import Finding, ascii_lower, line_bounds
from knowledge.redaction.placeholders import is_filtered
from knowledge.redaction.rules import private_key_findings, rule_findings

__all__ = ["Finding", "Redacted", "marker", "redact_document", "redact_text"]


@dataclass(frozen=True)
class Redacted:
    text: str
    findings: tuple[Finding, ...]


def marker(kind: str) -> str:
    return f"[redacted: {kind}]"


def redact_text(text: str, path: str = "") -> Redacted:
    """`text` with every secret replaced by its marker; `path` (a file name) picks the
    keyword rules for its file type."""
    lowered = ascii_lower(text)
    candidates = [
        *private_key_findings(text),
        *token_findings(text),
        *keyword_findings(text, lowered, path),
        *rule_findings(text, lowered),
    ]
    found = _merge([f for f in candidates if f.kind == "private key" or not _not_secret(text, f)])
    return Redacted(_replace(text, found), found)


def redact_document(document: Document) -> tuple[Document, tuple[Finding, ...]]:
    """The document with its content redacted, and what was found (empty: the same document)."""
    redacted = redact_text(document.content, document.path or document.external_id)
    if not redacted.findings:
        return document, ()
    return replace(document, content=redacted.text), redacted.findings


def _not_secret(text: str, finding: Finding) -> bool:
    start, end = line_bounds(text, finding.start)
    value, line = text[finding.start : finding.end], text[start:end]
    return is_filtered(value, line, by_name=finding.by_name, before=text[start : finding.start])


def _merge(findings: list[Finding]) -> tuple[Finding, ...]:
    """Overlapping findings become one (a key caught by two plugins is one secret);
    the earliest, longest one names it."""
    merged: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            if finding.end > merged[-1].end:
                merged[-1] = replace(merged[-1], end=finding.end)
            continue
        merged.append(finding)
    return tuple(merged)


def _replace(text: str, findings: tuple[Finding, ...]) -> str:
    pieces, position = [], 0
    for finding in findings:
        pieces.append(text[position : finding.start])
        # A block over several lines keeps its line breaks, so later lines keep their numbers.
        pieces.append(marker(finding.kind) + "\n" * text.count("\n", finding.start, finding.end))
        position = finding.end
    pieces.append(text[position:])
    return "".join(pieces)
