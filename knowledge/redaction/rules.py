"""lorebot's own rules, for secrets detect-secrets 1.5's plugins miss.

Each rule is named for the gap it fills. The regexes are anchored at a word start and
bounded, so a megabyte of base64 on one line cannot make them backtrack for long.
Private keys get an extent here: detect-secrets sees only a key's first line, and the
whole block must go.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass

from detect_secrets.plugins.high_entropy_strings import (
    Base64HighEntropyString,
    HexHighEntropyString,
    HighEntropyStringsPlugin,
)

from knowledge.redaction.detectors import private_key_headers
from knowledge.redaction.findings import Finding, line_at, line_bounds


@dataclass(frozen=True)
class Rule:
    """A secret the plugins miss; the regex's group "secret" is what is redacted.

    `kind` None: "password", "token" or "secret", by the name the regex matched (group
    "name"). `lowercase`: the regex is matched against the text in lower case (a fast
    case-insensitive match). `by_name`: only the name says it is a secret, so the line
    filters apply (placeholders.is_filtered). `random`: the value must also look random.
    """

    name: str
    kind: str | None
    pattern: re.Pattern[str]
    lowercase: bool = False
    by_name: bool = False
    random: bool = False


_SECRET_WORDS = (
    r"token|secret|passw(?:or)?d|pwd|api[_-]?key|access[_-]?key|auth[_-]?key|client[_-]?key"
    r"|private[_-]?key|credential|signature"
)
_NAME_ASSIGNED = rf"(?P<name>(?:{_SECRET_WORDS})[\w.-]{{0,40}})[\"'\]]{{0,2}}\s*(?::=|=>|[:=])"
_ENV_WORDS = r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|CREDENTIALS?"

# Each regex starts with a literal or a lower-case alternation: Python's re finds those
# fast, where a leading `\b` or character class makes it try every position.
RULES: tuple[Rule, ...] = (
    # detect-secrets 1.5 knows classic tokens (ghp_, gho_, …) only.
    Rule("GitHub fine-grained token", "GitHub token", re.compile(r"(?P<secret>github_pat_[A-Za-z0-9_]{40,255})")),
    # Its Slack plugin knows xox?- tokens, not app-level (xapp-) or refresh (xoxe-) tokens.
    Rule(
        "Slack app or refresh token",
        "Slack token",
        re.compile(r"(?P<secret>(?:xapp|xoxe(?:\.xox[a-z])?)-\d-[A-Za-z0-9-]{20,255})"),
    ),
    # Its Stripe plugin knows live keys only; test keys open the account's test data.
    Rule("Stripe test key", "Stripe key", re.compile(r"(?P<secret>(?:sk|rk)_test_[0-9A-Za-z]{24,247})")),
    Rule("Google API key", "Google API key", re.compile(r"(?P<secret>AIza[0-9A-Za-z_-]{35})")),
    # Its Basic Auth plugin needs a user name: `redis://:password@host` has none.
    Rule("URL password without a user", "password in URL", re.compile(r"://:(?P<secret>[^@\s/:]{1,200})@")),
    # JDBC, ODBC and .NET connection strings: `?user=app&password=…`, `Server=db;Password=…;`.
    Rule(
        "connection-string password",
        "password",
        re.compile(r"[?&;]\s*(?:password|passwd|pwd)\s*=\s*(?P<secret>[^;&\s'\"]{1,200})"),
        lowercase=True,
        by_name=True,
    ),
    # Unquoted environment assignments in prose, scripts and compose files (`DB_PASSWORD=…`),
    # where the keyword plugin wants quotes.
    Rule(
        "environment variable",
        None,
        re.compile(
            rf"(?P<name>(?:{_ENV_WORDS})[A-Z0-9_]{{0,40}})=(?P<quote>[\"']?)(?P<secret>[^\s\"'`]{{1,200}})(?P=quote)"
        ),
        by_name=True,
    ),
    # A random-looking value next to a secret-ish name the keyword plugin does not know
    # (`api_token`, `credentials`) or in a form it does not read (unquoted, in prose, or
    # starting with a symbol: its values must start with a letter or digit). A quoted value
    # runs to its closing quote, so no tail of a secret is left behind.
    Rule(
        "random quoted value next to a secret-ish name",
        None,
        re.compile(rf"{_NAME_ASSIGNED}\s*@?(?P<quote>[\"'`])(?P<secret>[^\s\"'`]{{16,500}})(?P=quote)"),
        lowercase=True,
        by_name=True,
        random=True,
    ),
    Rule(
        "random unquoted value next to a secret-ish name",
        None,
        re.compile(rf"{_NAME_ASSIGNED}\s*(?P<secret>[^\s\"'`<>()\[\]{{}},;]{{16,500}})"),
        lowercase=True,
        by_name=True,
        random=True,
    ),
    Rule(
        "bearer token",
        "bearer token",
        re.compile(r"bearer\s+(?P<secret>[a-z0-9._~+/-]{16,500}=*)"),
        lowercase=True,
        random=True,
    ),
)


class _PrintableEntropy(HighEntropyStringsPlugin):
    """detect-secrets' entropy measure over every printable character, for values such
    as Django's `SECRET_KEY`, where symbols carry as much randomness as letters."""

    secret_type = "Printable High Entropy String"

    def __init__(self) -> None:
        super().__init__(charset=string.ascii_letters + string.digits + string.punctuation, limit=_RANDOM_LIMIT)


_RANDOM_LIMIT = 3.5  # bits per character; detect-secrets' 4.5 is meant for values with no name
_BASE64 = Base64HighEntropyString()
_HEX = HexHighEntropyString()
_PRINTABLE = _PrintableEntropy()
_PASSWORD_WORD = re.compile(r"pass|pwd", re.IGNORECASE)
_TOKEN_WORD = re.compile(r"token", re.IGNORECASE)

_PEM_HEADER = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_PEM_FOOTER = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_KEY_MATERIAL = re.compile(
    r"[ \t]*(?:[A-Za-z0-9+/=]{4,}|(?:Proc-Type|DEK-Info|Version|Comment|Encryption|Public-Lines|Private-Lines"
    r"|Private-MAC|Key-Derivation|Argon2-\w+):.*|)[ \t\r]*"
)
_FOOTER_WITHIN = 200  # lines: a 16,384-bit RSA key in PEM is under 200 lines


def rule_findings(text: str, lowered: str) -> Iterator[Finding]:
    """What the rules find in `text` (`lowered`: the same in lower case, findings.ascii_lower)."""
    for rule in RULES:
        for match in rule.pattern.finditer(lowered if rule.lowercase else text):
            start, end = match.span("secret")
            value = text[start:end]
            name = match.group("name") if "name" in rule.pattern.groupindex else ""
            if rule.random and (not looks_random(value) or "://" in value):
                continue  # `TOKEN_URL = "https://…"` names where a token comes from
            if name and value.lower() == name.lower():
                continue  # `SECRET_KEY=secret_key` passes a variable on
            kind = rule.kind or _kind_by_name(name)
            yield Finding(start, end, kind, line_at(text, start), by_name=rule.by_name)


def _kind_by_name(name: str) -> str:
    if _PASSWORD_WORD.search(name):
        return "password"
    return "token" if _TOKEN_WORD.search(name) else "secret"


def looks_random(value: str) -> bool:
    """Random-looking by detect-secrets' entropy measure: hex over its hex limit, else
    letters and digits mixed and over `_RANDOM_LIMIT` (over base64's alphabet, or over
    every printable character when the value holds others)."""
    value = value.rstrip("=.")
    if len(value) < 16:
        return False
    if all(c in string.hexdigits for c in value):
        return _HEX.calculate_shannon_entropy(value) > _HEX.entropy_limit
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    measure = _BASE64 if all(c in _BASE64.charset for c in value) else _PRINTABLE
    return measure.calculate_shannon_entropy(value) > _RANDOM_LIMIT


def private_key_findings(text: str) -> Iterator[Finding]:
    """Each private key from its first line through its footer (PEM, PGP), or through the
    last line of key material after it (a key with no footer, PuTTY's format)."""
    starts = {*private_key_headers(text), *(match.start() for match in _PEM_HEADER.finditer(text))}
    for start in sorted(starts):
        yield Finding(start, _key_end(text, start), "private key", line_at(text, start))


def _key_end(text: str, start: int) -> int:
    _, line_end = line_bounds(text, start)
    footer = _PEM_FOOTER.search(text, start)
    if footer and text.count("\n", start, footer.start()) <= _FOOTER_WITHIN:
        return footer.end()
    end = line_end
    while end < len(text):
        next_end = text.find("\n", end + 1)
        next_end = len(text) if next_end < 0 else next_end
        line = text[end + 1 : next_end]
        if not line.strip() or not _KEY_MATERIAL.fullmatch(line):
            break
        end = next_end
    return end
