"""Which matched values are not secrets: placeholders and detect-secrets' false-positive filters.

A `.env.example` line `DB_PASSWORD=changeme` matches every password rule; the value is
what tells it is not a secret. detect-secrets' heuristic filters (the ones its own scan
applies by default) catch templates (`${VAR}`, `<token>`, `{secret}`), `$VAR`,
sequences, UUIDs and values without a letter; lorebot adds the words people put in
examples (`changeme`, `xxx`, `dummy`, `your-…`), format fields (`{load('key')}`),
values that are no value at all (`none`, `true`, the key's own name), tokens made of
one repeated character and a URL's password that repeats its user name.
"""

from __future__ import annotations

import re

from detect_secrets.filters import heuristic

_PLACEHOLDER_WORDS = (
    "changeme",
    "change_me",
    "change-me",
    "changeit",
    "example",
    "dummy",
    "placeholder",
    "your",
    "redacted",  # lorebot's own marker: redacting twice changes nothing
    "replace",
    "sample",
    "insert",
    "xxx",
    "***",
    "...",
    "<",
    ">",
    "{{",
    "%(",
    "${",
    "$(",
)
_NO_VALUE = frozenset(
    {
        "none",
        "null",
        "nil",
        "true",
        "false",
        "undefined",
        "empty",
        "value",
        "required",
        "optional",
        "string",
        "str",
        "n/a",
        "tbd",
        "todo",
        "secret",
        "password",
        "passwd",
        "token",
        "key",
    }
)
_VENDOR_PREFIX = re.compile(r"^[A-Za-z]{2,8}[_-]")


def is_placeholder(value: str) -> bool:
    """True for values that stand in for a secret in examples and templates."""
    lowered = value.strip().strip("\"'`").lower()
    if not lowered or lowered in _NO_VALUE:
        return True
    if lowered.startswith("{"):  # a format field, cut where a quote inside it begins: f"KEY={load('key')}"
        return True
    if any(word in lowered for word in _PLACEHOLDER_WORDS):
        return True
    core = _VENDOR_PREFIX.sub("", lowered)  # ghp_000…, sk_live_xxxx…: the prefix is not the value
    return len(set(core)) <= 3


def is_filtered(value: str, line: str, *, by_name: bool, before: str = "") -> bool:
    """True when `value` (found in `line`, after `before`) is not a secret.

    `by_name` is for values found only because a secret-ish name stands next to them
    (`password = …`): those also pass detect-secrets' line filters, which drop
    `secret = get_secret()` and `client_id = …`. A token recognised by its own shape
    (`ghp_…`, `AKIA…`) is a secret wherever it stands. A URL whose password is its user
    name (`postgres://postgres:postgres@localhost`) holds a local default.
    """
    if (
        is_placeholder(value)
        or before.endswith(f"//{value}:")
        or heuristic.is_templated_secret(value)
        or heuristic.is_prefixed_with_dollar_sign(value)
        or heuristic.is_sequential_string(value)
        or heuristic.is_potential_uuid(value)
        or heuristic.is_not_alphanumeric_string(value)
    ):
        return True
    return by_name and (heuristic.is_indirect_reference(line) or heuristic.is_likely_id_string(value, line))
