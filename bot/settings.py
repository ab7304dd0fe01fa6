"""Settings: environment variables (and `.env`), plus an optional TOML file named by
`LOREBOT_CONFIG` for several sources with their own options.

Built once at start-up and passed in; nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from knowledge.retriever import DEFAULT_ALPHA

CommaList = Annotated[list[str], NoDecode]


def secret_value(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value else None


class SourceConfig(BaseModel):
    """One `[[sources]]` entry of the TOML file."""

    kind: Literal["git", "confluence"]
    name: str | None = None
    # git
    url: str | None = None
    branch: str | None = None
    # confluence
    spaces: list[str] = Field(default_factory=list)
    include_blogposts: bool | None = None


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

    slack_bot_token: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str | None = None

    confluence_url: str | None = None
    confluence_username: str | None = None
    confluence_api_token: SecretStr | None = None
    confluence_token: SecretStr | None = None
    confluence_spaces: CommaList = Field(default_factory=list)
    confluence_include_blogposts: bool = False

    repos: CommaList = Field(default_factory=list)
    max_file_bytes: int = 1_000_000

    sync_interval_minutes: int = 60

    search_alpha: float = DEFAULT_ALPHA
    search_k: int = 5
    abstain_threshold: float = 0.35

    sources: list[SourceConfig] = Field(default_factory=list)

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
                raise FileNotFoundError(f"LOREBOT_CONFIG names {config_file}, which is not a file.")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'lorebot.db').resolve()}"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def repos_dir(self) -> Path:
        return self.data_dir / "repos"
