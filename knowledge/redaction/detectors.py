"""detect-secrets' plugins, run on a text in memory.

Only the plugins' matching is used, never their `verify` (which calls the vendor's API
with the secret) nor detect-secrets' scan functions (which read global settings and log
the values they skip). A token plugin's own regexes (`denylist`) say where each match
is; its `analyze_string` on that match says which part is the secret (a JWT must also
decode, a Basic Auth URL yields only its password). The keyword plugin ("password",
"secret", "api_key", … next to a value) runs per line, with the regexes detect-secrets
picks for the file's type: quotes required in code and prose, not in config files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP, REGEX_BY_FILETYPE, KeywordDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector
from detect_secrets.util.filetype import FileType, determine_file_type

from knowledge.redaction.findings import Finding, line_at, line_bounds

# Every detect-secrets plugin that recognises a secret by its shape, with the words of
# its marker. Left out: the public-IP plugin (an address is no secret) and the two
# high-entropy plugins, which alone flag every hash and test vector; their entropy
# measure is used next to a secret-ish name (rules.py).
TOKEN_PLUGINS: tuple[tuple[RegexBasedDetector, str], ...] = (
    (AWSKeyDetector(), "AWS secret key"),  # an access key id is told apart in _kind
    (GitHubTokenDetector(), "GitHub token"),
    (GitLabTokenDetector(), "GitLab token"),
    (SlackDetector(), "Slack token"),
    (StripeDetector(), "Stripe key"),
    (BasicAuthDetector(), "password in URL"),
    (JwtTokenDetector(), "JWT"),
    (NpmDetector(), "npm token"),
    (PypiTokenDetector(), "PyPI token"),
    (OpenAIDetector(), "OpenAI key"),
    (SendGridDetector(), "SendGrid key"),
    (TwilioKeyDetector(), "Twilio key"),
    (MailchimpDetector(), "Mailchimp key"),
    (SquareOAuthDetector(), "Square secret"),
    (DiscordBotTokenDetector(), "Discord token"),
    (TelegramBotTokenDetector(), "Telegram token"),
    (AzureStorageKeyDetector(), "Azure storage key"),
    (ArtifactoryDetector(), "Artifactory token"),
    (CloudantDetector(), "Cloudant credentials"),
    (IbmCloudIamDetector(), "IBM Cloud key"),
    (IbmCosHmacDetector(), "IBM COS key"),
    (SoftlayerDetector(), "SoftLayer key"),
)
# Plugins whose regexes may start anywhere (an optional prefix, then a keyword) cost 100–250 ms
# per MB over a whole text; they run only on lines that can hold their value: one of 24
# token characters or more (IBM, Cloudant, SoftLayer values), or Artifactory's prefixes.
_LONG_VALUE = re.compile(r"[A-Za-z0-9_-]{24}")
_LINE_HINTS: dict[type[RegexBasedDetector], re.Pattern[str]] = {
    ArtifactoryDetector: re.compile(r"AKC|AP[0-9A-F]"),
    CloudantDetector: _LONG_VALUE,
    IbmCloudIamDetector: _LONG_VALUE,
    IbmCosHmacDetector: _LONG_VALUE,
    SoftlayerDetector: _LONG_VALUE,
}
PRIVATE_KEY_PLUGIN = PrivateKeyDetector()
KEYWORD_PLUGIN = KeywordDetector()

_AWS_KEY_ID = re.compile(r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")
_SLACK_WEBHOOK = "https://hooks.slack.com/"
_DELIMITERS = " \t\r\n\"'`=:"  # some plugins' matches include the character before or after
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_-]*")
# A line the keyword plugin can match holds one of its words (detect_secrets.plugins.keyword.DENYLIST),
# looked for in the text in lower case.
_KEYWORD_HINT = re.compile(
    r"(?:api|auth|service|account|db|database|priv|private|client)_?key|(?:db|database|key)_?pass"
    r"|passw(?:or)?d|pwd|secret|contrase"
)
_PASSWORD_WORD = re.compile(r"pass|pwd|contrase", re.IGNORECASE)
_CONFIG_NAMES = re.compile(r"(^\.env|\.env$|^\.envrc$|^dockerfile|\.(sh|bash|zsh|env)$)", re.IGNORECASE)


def token_findings(text: str) -> Iterator[Finding]:
    """Secrets the token plugins recognise by their shape, wherever they stand."""
    hinted: dict[re.Pattern[str], list[tuple[int, int]]] = {}
    for plugin, kind in TOKEN_PLUGINS:
        hint = _LINE_HINTS.get(type(plugin))
        if hint and hint not in hinted:
            hinted[hint] = _hinted_lines(text, hint)
        spans = hinted[hint] if hint else [(0, len(text))]
        for regex in plugin.denylist:
            # From the newline before a line: a regex may start with the whitespace before its token.
            for match in (m for start, end in spans for m in regex.finditer(text, max(start - 1, 0), end)):
                values = set(plugin.analyze_string(match.group(0)))
                for start, end in _secret_spans(match):
                    value = text[start:end]
                    if value not in values:
                        continue  # the plugin's own check said no (a JWT that does not decode)
                    while value and value[0] in _DELIMITERS:  # some matches include the character before
                        start, value = start + 1, value[1:]
                    value = value.rstrip(_DELIMITERS)
                    if value:
                        # A match can stop inside a longer token (Stripe's regex reads 24 characters
                        # of keys that are longer now): the rest of the token goes too.
                        tail = _TOKEN_TAIL.match(text, start + len(value))
                        end = tail.end() if tail else start + len(value)
                        yield Finding(start, end, _kind(kind, value), line_at(text, start))


def keyword_findings(text: str, lowered: str, path: str) -> Iterator[Finding]:
    """Values next to a secret-ish name (`password: …`, `"api_key": "…"`), on the lines
    that hold such a name (`lowered` is `text` in lower case, findings.ascii_lower)."""
    patterns = _keyword_patterns(path)
    for start, end in _hinted_lines(lowered, _KEYWORD_HINT):
        line = text[start:end]
        for value in set(KEYWORD_PLUGIN.analyze_string(line, denylist_regex_to_group=patterns)):
            offset = _value_offset(line, value)
            if offset is not None:
                kind = "password" if _PASSWORD_WORD.search(line, 0, offset) else "secret"
                yield Finding(start + offset, start + offset + len(value), kind, line_at(text, start), by_name=True)


def private_key_headers(text: str) -> Iterator[int]:
    """Offsets where detect-secrets sees the start of a private key (PEM, PGP, PuTTY)."""
    for regex in PRIVATE_KEY_PLUGIN.denylist:
        for match in regex.finditer(text):
            start, _ = line_bounds(text, match.start())
            dashes = text.rfind("-----", start, match.start())
            yield dashes if dashes >= 0 else match.start()


def _secret_spans(match: re.Match[str]) -> list[tuple[int, int]]:
    """Where a plugin regex's secret is: its groups that matched (a Basic Auth URL's
    password), or the whole match when it has none (`AKIA…`)."""
    groups = [match.span(i) for i in range(1, (match.re.groups or 0) + 1) if match.group(i)]
    return groups or [match.span()]


def _hinted_lines(text: str, hint: re.Pattern[str]) -> list[tuple[int, int]]:
    """The (start, end) offsets of each line of `text` where `hint` matches, in order, once each."""
    lines: list[tuple[int, int]] = []
    for match in hint.finditer(text):
        if not lines or match.start() > lines[-1][1]:
            lines.append(line_bounds(text, match.start()))
    return lines


def _kind(kind: str, value: str) -> str:
    if kind == "AWS secret key" and _AWS_KEY_ID.fullmatch(value):
        return "AWS access key id"
    if kind == "Slack token" and value.startswith(_SLACK_WEBHOOK):
        return "Slack webhook"
    return kind


def _keyword_patterns(path: str) -> dict[re.Pattern, int]:
    """The keyword plugin's regexes for this file: detect-secrets' choice by file type, and its
    config-file choice (no quotes needed) for env files, shell scripts and Dockerfiles too."""
    name = PurePosixPath(path).name
    if _CONFIG_NAMES.search(name):
        return REGEX_BY_FILETYPE[FileType.CONFIG]
    return REGEX_BY_FILETYPE.get(determine_file_type(name), QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP)


def _value_offset(line: str, value: str) -> int | None:
    """Where in `line` the keyword plugin's value is: an occurrence that is a whole word
    (`db_password: db` is the second "db"), else the last one."""
    if not value:
        return None
    found = [m.start() for m in re.finditer(re.escape(value), line)]
    for start in found:
        end = start + len(value)
        if (start == 0 or not _is_word(line[start - 1])) and (end == len(line) or not _is_word(line[end])):
            return start
    return found[-1] if found else None


def _is_word(character: str) -> bool:
    return character.isalnum() or character == "_"
