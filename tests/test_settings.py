"""Settings from the environment, `.env` and the LOREBOT_CONFIG TOML file, and the sources they make."""

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError
from knowledge.schedule import Schedule
from knowledge.sources import SourceConfigError
from knowledge.sources.connectors import SourceContext
from knowledge.sources.connectors import build_sources as build


def build_sources(settings: Settings):
    configured = build(settings.source_entries(), SourceContext(settings.data_dir, settings.max_file_bytes))
    return [c.source for c in configured]


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


def test_sources_carry_their_own_schedule_or_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "lorebot.toml"
    config.write_text(
        '[[sources]]\nkind = "git"\nname = "a"\nurl = "/srv/a"\ninterval_seconds = 900\n\n'
        '[[sources]]\nkind = "git"\nname = "b"\nurl = "/srv/b"\ncron = "*/15 * * * *"\n\n'
        '[[sources]]\nkind = "git"\nname = "c"\nurl = "/srv/c"\n'
    )
    monkeypatch.setenv("LOREBOT_CONFIG", str(config))
    settings = Settings()
    configured = build(settings.source_entries(), SourceContext(settings.data_dir, settings.max_file_bytes))
    assert [c.schedule for c in configured] == [Schedule(interval_seconds=900), Schedule(cron="*/15 * * * *"), None]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"interval_seconds": 60, "cron": "* * * * *"}, "not both"),
        ({"interval_seconds": 0}, "at least 1"),
        ({"cron": "every day"}, "Wrong number of fields"),
        ({"cron": "61 * * * *"}, "higher than the maximum"),
        ({"role_weights": {"tests": 1.0}}, "role_weights.tests.*'code', 'docs', 'test'"),
        ({"role_weights": {"test": 2.0}}, "role_weights.test: Input should be less than or equal to 1"),
    ],
)
def test_a_wrong_schedule_or_role_weight_names_the_entry(options: dict, problem: str, tmp_path: Path) -> None:
    entry = {"kind": "git", "name": "backend", "url": "/srv/backend", **options}
    with pytest.raises(SourceConfigError, match=f"Source 1 \\(git, backend\\) is invalid: .*{problem}"):
        build([entry], SourceContext(tmp_path, 1000))
