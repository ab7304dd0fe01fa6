"""The connector registry: each `[[sources]]` kind, its config model and how to build it.

A connector module (git.py, confluence.py) defines a pydantic config subclassing
`SourceConfig` with `kind: Literal["<kind>"]` and a `build(config, name, context)`
returning a `Source`, and exports them as `CONNECTOR`. Listing that `CONNECTOR` in
`_registered()` below is the only other line a new connector needs: the entries of `LOREBOT_CONFIG`
are validated as a union discriminated on `kind`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from knowledge.roles import Role
from knowledge.schedule import Schedule
from knowledge.sources import Source, SourceConfigError


class SourceConfig(BaseModel):
    """What every `[[sources]]` entry may say; a connector's config adds its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    name: str | None = None
    private: bool = False
    """Used only where the `[access]` policy names the source (bot/access/policy.py)."""
    interval_seconds: int | None = None
    cron: str | None = None
    """A 5-field crontab line (UTC); with neither, SYNC_INTERVAL_MINUTES."""
    role_weights: dict[Role, Annotated[float, Field(ge=0.0, le=1.0)]] = {}
    """The ranking stage's weight of this source's tests, changelogs, … (knowledge/ranking.py)."""

    @model_validator(mode="after")
    def _one_schedule(self) -> SourceConfig:
        if self.interval_seconds is not None or self.cron is not None:
            self.schedule  # noqa: B018  (validates: both given, interval < 1, a cron string that does not parse)
        return self

    @property
    def schedule(self) -> Schedule | None:
        if self.interval_seconds is None and self.cron is None:
            return None
        return Schedule(self.interval_seconds, self.cron)


@dataclass(frozen=True)
class ConfiguredSource:
    """A built source with its schedule."""

    source: Source
    schedule: Schedule | None
    """None: the default interval (SYNC_INTERVAL_MINUTES)."""


@dataclass(frozen=True)
class SourceContext:
    """What the running application gives every connector."""

    data_dir: Path
    max_file_bytes: int


C = TypeVar("C", bound=SourceConfig)


@dataclass(frozen=True)
class Connector(Generic[C]):
    kind: str
    config: type[C]
    build: Callable[[C, str, SourceContext], Source]
    """(validated config, the source's unique name, context) → the source."""
    default_name: Callable[[C], str]


def _registered() -> dict[str, Connector[Any]]:
    # Imported here, not at the top: each connector module imports SourceConfig from this one.
    from knowledge.sources import confluence, git

    return {connector.kind: connector for connector in (git.CONNECTOR, confluence.CONNECTOR)}


@dataclass(frozen=True)
class SourceEntry:
    """One validated entry with its unique name, not built yet."""

    name: str
    config: SourceConfig
    connector: Connector[Any]


def configure_sources(entries: Sequence[Mapping[str, Any]]) -> list[SourceEntry]:
    """Every entry validated by its connector's config; names made unique."""
    connectors = _registered()
    union: Any = Union[tuple(connector.config for connector in connectors.values())]  # noqa: UP007  (built at run time)
    adapter: TypeAdapter[SourceConfig] = TypeAdapter(Annotated[union, Field(discriminator="kind")])
    configured: list[SourceEntry] = []
    taken: set[str] = set()
    for number, entry in enumerate(entries, 1):
        try:
            config = adapter.validate_python(dict(entry))
        except ValidationError as exc:
            raise SourceConfigError(_describe(number, entry, exc, connectors)) from exc
        connector = connectors[config.kind]
        configured.append(SourceEntry(_unique(config.name or connector.default_name(config), taken), config, connector))
    return configured


def build_sources(entries: Sequence[Mapping[str, Any]], context: SourceContext) -> list[ConfiguredSource]:
    """A source per entry (see `configure_sources`), built by its connector, with its schedule."""
    return [
        ConfiguredSource(entry.connector.build(entry.config, entry.name, context), entry.config.schedule)
        for entry in configure_sources(entries)
    ]


def _describe(number: int, entry: Mapping[str, Any], exc: ValidationError, connectors: Mapping[str, Any]) -> str:
    kind = entry.get("kind")
    if kind not in connectors:
        return f"Source {number} has kind {kind!r}; the kinds are {', '.join(sorted(connectors))}."
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error['loc'][1:]) or 'entry'}: {error['msg']}" for error in exc.errors()
    )
    return f"Source {number} ({kind}{', ' + str(entry['name']) if entry.get('name') else ''}) is invalid: {problems}."


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate
