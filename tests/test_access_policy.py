"""The `[access]` policy: validation against the configured sources, first match wins,
private sources only where named; and the cache that remembers people for a while."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.access.policy import AccessPolicy
from bot.access.ttl import TtlCache
from bot.settings import Settings, SettingsError
from knowledge.restrictions import MAX_LEVELS, canonical, readable
from knowledge.sources.connectors import configure_sources

CONFIG = """
[[sources]]
kind = "git"
name = "backend"
url = "https://github.com/acme/backend.git"

[[sources]]
kind = "git"
name = "frontend"
url = "https://github.com/acme/frontend.git"

[[sources]]
kind = "confluence"
name = "hr-wiki"
url = "https://acme.atlassian.net/wiki"
spaces = ["HR"]
private = true
"""


def policy_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, access: str) -> AccessPolicy:
    config = tmp_path / "lorebot.toml"
    config.write_text(CONFIG + access)
    monkeypatch.setenv("LOREBOT_CONFIG", str(config))
    settings = Settings()
    private = {source.name: source.config.private for source in configure_sources(settings.source_entries())}
    return AccessPolicy.build(settings.access, private)


def test_without_access_every_source_but_the_private_ones(tmp_path, monkeypatch):
    policy = policy_of(tmp_path, monkeypatch, "")
    assert policy.for_channel("C1", "general") == ("backend", "frontend")
    assert policy.dm == ("backend", "frontend")


def test_the_contract_shape_first_match_wins(tmp_path, monkeypatch):
    policy = policy_of(
        tmp_path,
        monkeypatch,
        """
[access]
default_sources = ["backend"]
dm_sources = ["backend", "hr-wiki"]

[[access.channels]]
match = "#hr-*"
sources = ["hr-wiki"]

[[access.channels]]
match = "#hr-private"
sources = ["backend", "frontend"]

[[access.channels]]
match = "C0FRONT*"
sources = ["frontend"]
""",
    )
    assert policy.for_channel("C9", "hr-private") == ("hr-wiki",)  # the first of two matches
    assert policy.for_channel("C0FRONT1", "web") == ("frontend",)  # by id
    assert policy.for_channel("C9", "general") == ("backend",)  # the default
    assert policy.for_channel("C9", "hr") == ("backend",)  # "#hr-*" needs the dash
    assert policy.for_channel("C9", None) == ("backend",)
    assert policy.dm == ("backend", "hr-wiki")


def test_a_private_source_named_only_in_a_channel_entry(tmp_path, monkeypatch):
    policy = policy_of(
        tmp_path, monkeypatch, '[[access.channels]]\nmatch = "#people"\nsources = ["hr-wiki", "backend"]\n'
    )
    assert policy.for_channel("C1", "people") == ("hr-wiki", "backend")
    assert "hr-wiki" not in policy.for_channel("C2", "general") and "hr-wiki" not in policy.dm


def test_unknown_source_names_are_named(tmp_path, monkeypatch):
    access = '[access]\ndm_sources = ["backend", "wiki"]\n[[access.channels]]\nmatch = "#x"\nsources = ["ops"]\n'
    with pytest.raises(
        SettingsError, match=r"not configured: ops, wiki \(the sources are: backend, frontend, hr-wiki\)"
    ):
        policy_of(tmp_path, monkeypatch, access)


@pytest.mark.parametrize(
    ("access", "problem"),
    [
        ('[access]\ndefault = ["backend"]\n', "default: Extra inputs are not permitted"),
        ('[[access.channels]]\nsources = ["backend"]\n', "channels.0.match: Field required"),
        ('[access]\ndm_sources = "backend"\n', "dm_sources: Input should be a valid list"),
    ],
)
def test_a_malformed_policy_says_what_is_wrong(tmp_path, monkeypatch, access, problem):
    with pytest.raises(SettingsError, match=f"The \\[access\\] policy in LOREBOT_CONFIG is invalid: {problem}"):
        policy_of(tmp_path, monkeypatch, access)


def test_cache_entries_expire():
    now = [100.0]
    cache: TtlCache[str, str] = TtlCache(60, clock=lambda: now[0], size=2)
    cache.put("U1", "ann@acme.test")
    now[0] += 59
    assert cache.get("U1") == "ann@acme.test"
    now[0] += 1
    assert cache.get("U1") is None
    for user in ("U1", "U2", "U3"):
        cache.put(user, user)
    assert [cache.get(user) for user in ("U1", "U2", "U3")] == [None, "U2", "U3"]  # the oldest made room


def test_restriction_levels_are_canonical_and_all_must_be_met():
    levels = canonical([{"g:hr", "u:ann"}, {"u:ann"}, {"g:staff", "g:hr"}, {"g:hr", "g:staff"}])
    assert levels == (("g:hr", "g:staff"), ("u:ann",))  # the superset of {"u:ann"} is implied; duplicates go
    assert readable(levels, frozenset({"u:ann", "g:staff"}))
    assert not readable(levels, frozenset({"g:hr", "g:staff"}))
    assert readable((), frozenset()) and not readable(canonical([set()]), frozenset({"u:ann"}))
    assert not readable(tuple((f"u:{n}",) for n in range(MAX_LEVELS + 1)), frozenset(f"u:{n}" for n in range(20)))
