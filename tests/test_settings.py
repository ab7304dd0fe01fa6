"""Settings from the environment, `.env` and the LOREBOT_CONFIG TOML file, and the sources they make."""

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError
from knowledge.sources import SourceConfigError
from knowledge.sources.connectors import SourceContext
from knowledge.sources.connectors import build_sources as build


def build_sources(settings: Settings):
    return build(settings.source_entries(), SourceContext(settings.data_dir, settings.max_file_bytes))


def test_environment_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "REPOS=https://github.com/acme/api.git#develop, /srv/web\nSYNC_INTERVAL_MINUTES=15\n"
    )
    monkeypatch.setenv("CONFLUENCE_SPACES", "ENG,OPS")
    monkeypatch.setenv("LLM_MODEL", "")
    settings = Settings()
    assert settings.repos == ["https://github.com/acme/api.git#develop", "/srv/web"]
    assert settings.confluence_spaces == ["ENG", "OPS"]
    assert settings.sync_interval_minutes == 15
    assert settings.llm_model is None
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'lorebot.db').resolve()}"


def test_toml_sources_with_their_own_options(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "lorebot.toml"
    config.write_text(
        '[[sources]]\nkind = "git"\nname = "backend"\nurl = "git@github.com:acme/backend.git"\nbranch = "main"\n\n'
        '[[sources]]\nkind = "confluence"\nname = "eng-wiki"\nspaces = ["ENG"]\ninclude_blogposts = true\n'
    )
    monkeypatch.setenv("LOREBOT_CONFIG", str(config))
    monkeypatch.setenv("CONFLUENCE_URL", "https://acme.atlassian.net/wiki")
    monkeypatch.setenv("REPOS", "/srv/backend")  # same default name as the TOML one: made unique
    sources = build_sources(Settings())
    assert [(s.name, s.kind) for s in sources] == [("backend", "git"), ("eng-wiki", "confluence"), ("backend-2", "git")]


def test_missing_config_file_and_incomplete_confluence_settings_are_clear(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOREBOT_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(SettingsError, match="LOREBOT_CONFIG"):
        Settings()
    monkeypatch.delenv("LOREBOT_CONFIG")
    monkeypatch.setenv("CONFLUENCE_SPACES", "ENG")
    with pytest.raises(SourceConfigError, match="CONFLUENCE_URL"):
        build_sources(Settings())


def test_abuse_limits_come_from_the_environment_and_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings()
    assert (defaults.user_questions_per_minute, defaults.max_concurrent_answers) == (5, 4)
    assert defaults.history_token_budget == 1500
    monkeypatch.setenv("USER_QUESTIONS_PER_MINUTE", "0")
    monkeypatch.setenv("MAX_CONCURRENT_ANSWERS", "8")
    monkeypatch.setenv("HISTORY_TOKEN_BUDGET", "3000")
    settings = Settings()
    assert (settings.user_questions_per_minute, settings.max_concurrent_answers) == (0, 8)
    assert settings.history_token_budget == 3000
    monkeypatch.setenv("MAX_CONCURRENT_ANSWERS", "0")
    with pytest.raises(ValueError, match="max_concurrent_answers"):
        Settings()
