"""The `[access]` policy of LOREBOT_CONFIG: which sources a channel, a DM and the Messages tab may use.

```toml
[access]
default_sources = ["backend"]          # channels not listed; unset: every source not private
dm_sources = ["backend", "hr-wiki"]    # DMs and the Messages tab; unset: every source not private

[[access.channels]]
match = "#hr-*"                        # fnmatch on "#name", or a channel id
sources = ["hr-wiki"]
```

The first `[[access.channels]]` entry that matches wins. A source marked `private = true`
in `[[sources]]` is used only where an entry here names it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.settings import SettingsError


class ChannelRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match: str = Field(min_length=1)
    sources: list[str]


class AccessConfig(BaseModel):
    """The `[access]` table as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_sources: list[str] | None = None
    dm_sources: list[str] | None = None
    channels: list[ChannelRule] = Field(default_factory=list)


@dataclass(frozen=True)
class AccessPolicy:
    configured: tuple[str, ...]
    default: tuple[str, ...]
    dm: tuple[str, ...]
    channels: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def build(cls, table: Mapping[str, Any] | None, private: Mapping[str, bool]) -> AccessPolicy:
        """The policy of an `[access]` table over the configured sources (name → private?);
        `SettingsError` for a malformed table, naming every source it mentions that is not configured."""
        try:
            config = AccessConfig.model_validate(table or {})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'access'}: {error['msg']}" for error in exc.errors()
            )
            raise SettingsError(f"The [access] policy in LOREBOT_CONFIG is invalid: {problems}.") from exc
        named = [
            *(config.default_sources or ()),
            *(config.dm_sources or ()),
            *(name for rule in config.channels for name in rule.sources),
        ]
        unknown = sorted(set(named) - set(private))
        if unknown:
            known = ", ".join(sorted(private)) or "none"
            raise SettingsError(
                f"The [access] policy names sources that are not configured: {', '.join(unknown)} "
                f"(the sources are: {known})."
            )
        public = tuple(name for name, hidden in private.items() if not hidden)
        return cls(
            configured=tuple(private),
            default=public if config.default_sources is None else tuple(config.default_sources),
            dm=public if config.dm_sources is None else tuple(config.dm_sources),
            channels=tuple((rule.match, tuple(rule.sources)) for rule in config.channels),
        )

    def for_channel(self, channel_id: str, name: str | None) -> tuple[str, ...]:
        """The sources of the first entry matching `#name` or the id; else the default."""
        for pattern, sources in self.channels:
            if fnmatchcase(channel_id, pattern) or (name is not None and fnmatchcase(f"#{name}", pattern)):
                return sources
        return self.default
