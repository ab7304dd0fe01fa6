"""Settings: environment variables (and `.env`), plus an optional TOML file named by
`LOREBOT_CONFIG` for several sources with their own options.

Built once at start-up and passed in; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from knowledge.errors import LorebotError

CommaList = Annotated[list[str], NoDecode]
LogFormat = Literal["auto", "json", "plain"]
"""auto: plain lines on a terminal, JSON lines otherwise."""


class SettingsError(LorebotError):
    """The settings cannot be read (a missing LOREBOT_CONFIG file, …)."""


class IndexBackend(StrEnum):
    EMBEDDED = "embedded"
    WEAVIATE = "weaviate"


def secret_value(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Path("./data")
    database_url: str | None = None

    weaviate_url: str | None = None
    weaviate_api_key: SecretStr | None = None
    weaviate_grpc_url: str | None = None

    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_batch_size: int = 32

    llm_model: str | None = None
    llm_api_base: str | None = None
    llm_api_key: SecretStr | None = None
    llm_fallback_models: CommaList = Field(default_factory=list)
    llm_timeout_seconds: float = 60.0
    llm_max_retries: int = 2
    history_token_budget: int = Field(default=1500, ge=100)
    """Tokens of a thread's history sent to the LLM with a question (older turns dropped first, a longer
    message cut with a note); the question itself is cut to the same budget. Also bounds the follow-up rewrite."""

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None
    user_questions_per_minute: int = Field(default=5, ge=0)
    """Questions one person may ask in any 60 seconds (per process); 0: no limit."""
    max_concurrent_answers: int = Field(default=4, ge=1)
    """Answers worked on at once (per process); later questions wait their turn."""
    slack_delivery_seconds: float = 300.0
    """How long a finished answer keeps being retried while Slack rate limits it (429, Retry-After)."""
    claim_timeout_seconds: float = 60.0
    """A question whose replica has not renewed its claim for this long is answered by another."""
    event_retention_days: float = 7.0
    """Handled Slack events are remembered (redeliveries dropped) this long, then pruned."""
    shutdown_grace_seconds: float = 90.0
    """On SIGTERM, answers in flight get this long to finish: above one LLM call (LLM_TIMEOUT_SECONDS)."""

    confluence_url: str | None = None
    confluence_username: str | None = None
    confluence_api_token: SecretStr | None = None
    confluence_token: SecretStr | None = None
    confluence_spaces: CommaList = Field(default_factory=list)
    confluence_include_blogposts: bool = False

    repos: CommaList = Field(default_factory=list)
    max_file_bytes: int = 1_000_000

    sync_interval_minutes: int = Field(default=60, ge=1)
    """The schedule of every source whose `[[sources]]` entry has no interval_seconds or cron."""
    sync_jitter_seconds: float = Field(default=30.0, ge=0)
    """Scheduled syncs start up to this much late (at most a tenth of the source's period)."""
    sync_lease_seconds: float = Field(default=60.0, gt=0)
    """A replica's hold on a source it syncs, renewed every third of it: how long a crashed
    replica's sources wait before another replica takes them over."""

    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8080, ge=0, le=65535)
    """`lorebot run` serves /healthz, /readyz and /metrics here; 0 turns the server off."""
    log_format: LogFormat = "auto"

    search_alpha: float = 0.6
    """Hybrid weighting, 0 keywords (BM25) only … 1 vectors only; tuned in docs/benchmarks.md."""
    search_k: int = 5
    search_candidates: int = 50
    """Index candidates the ranking stage orders per question."""
    abstain_threshold: float = 0.37
    absent_words_ceiling: float = 0.65
    """A question naming words no source holds abstains unless a passage's cosine reaches this; 0: never.
    Calibrated on the benchmark's dev splits (docs/benchmarks.md)."""
    rerank_model: str = ""
    """A local sentence-transformers CrossEncoder directory; empty: no cross-encoder (knowledge/reranking.py)."""
    rerank_candidates: int = Field(default=20, ge=1)
    """Candidates the cross-encoder scores per question, when RERANK_MODEL is set."""

    sources: list[dict[str, Any]] = Field(default_factory=list)
    """The TOML file's `[[sources]]`, as written; each connector validates its own (knowledge/sources/connectors.py)."""
    access: dict[str, Any] | None = None
    """The TOML file's `[access]` policy, as written; bot/access/policy.py validates it."""
    access_cache_seconds: float = 900.0
    """How long a Slack user's Confluence account and groups, and a channel's name, are remembered."""

    @field_validator("llm_fallback_models", "confluence_spaces", "repos", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("llm_model", "weaviate_url", "slack_api_url", "confluence_url", "database_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        config_file = os.environ.get("LOREBOT_CONFIG")
        if config_file:
            if not Path(config_file).is_file():
                raise SettingsError(f"LOREBOT_CONFIG names {config_file}, which is not a file.")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    def source_entries(self) -> list[dict[str, Any]]:
        """Every configured source as a `[[sources]]` entry: the TOML file's, then one per
        `REPOS` item, then one from the CONFLUENCE_* settings when they name spaces (or a URL
        and the file has no Confluence entry). The CONFLUENCE_* settings are the defaults of
        every Confluence entry."""
        confluence = {
            key: value
            for key, value in {
                "url": self.confluence_url,
                "username": self.confluence_username,
                "api_token": self.confluence_api_token,
                "token": self.confluence_token,
                "spaces": self.confluence_spaces or None,
                "include_blogposts": self.confluence_include_blogposts,
            }.items()
            if value is not None
        }
        entries = [
            {**confluence, **entry} if entry.get("kind") == "confluence" else dict(entry) for entry in self.sources
        ]
        entries += [{"kind": "git", "url": spec} for spec in self.repos]
        in_file = any(entry.get("kind") == "confluence" for entry in self.sources)
        if self.confluence_spaces or (self.confluence_url and not in_file):
            entries.append({"kind": "confluence", "name": "confluence", **confluence})
        return entries

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'lorebot.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def index_backend(self) -> IndexBackend:
        """The index lorebot uses: Weaviate when WEAVIATE_URL is set, else the embedded one."""
        return IndexBackend.WEAVIATE if self.weaviate_url else IndexBackend.EMBEDDED

    def index_name(self, backend: IndexBackend) -> str:
        """How messages name `backend`'s index."""
        if backend is IndexBackend.WEAVIATE:
            return f"Weaviate at {self.weaviate_url}"
        return f"the embedded index in {self.index_dir}"

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"
