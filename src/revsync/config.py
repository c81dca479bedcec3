"""Settings: one YAML file (``revsync.yaml``) plus ``REVSYNC_*`` environment overrides.

The file path comes from ``--config`` or ``REVSYNC_CONFIG``. Environment variables win over
the file; nested keys use ``__``: ``REVSYNC_DATABASE__URL=postgresql://…``. A relative SQLite
path is relative to the folder of the config file. Read by bootstrap only.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from revsync.domain.errors import InvalidField
from revsync.domain.metering import Aggregation, Meter, new_meter

CONFIG_ENV = "REVSYNC_CONFIG"
DEFAULT_CONFIG_NAME = "revsync.yaml"
EXAMPLE_CONFIG = Path(__file__).with_name("revsync.example.yaml")

Scalar = str | int | Decimal | bool | None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    """Where revsync keeps its data."""

    url: str = "sqlite:///revsync.db"


class ServerSettings(_Section):
    """The HTTP API."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)


class IngestionSettings(_Section):
    """Limits on incoming usage."""

    max_batch_events: int = Field(default=10_000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_future_hours: float = Field(default=24, gt=0)
    group_commit_max: int = Field(default=32, ge=1, le=1024)


class AuthSettings(_Section):
    """API key checks."""

    cache_seconds: float = Field(default=2.0, ge=0, le=300)


class LoggingSettings(_Section):
    """Structured logs on standard error."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class MeterSettings(_Section):
    """A meter: which events it reads and how it aggregates them."""

    key: str
    event_type: str
    aggregation: Aggregation
    value: str | None = None
    filters: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    group_by: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _valid_meter(self) -> MeterSettings:
        self.to_meter()
        return self

    def to_meter(self) -> Meter:
        """The domain meter (raises ``ValueError`` naming the field if invalid)."""
        try:
            return new_meter(
                self.key, self.event_type, self.aggregation, self.value, self.filters, self.group_by
            )
        except InvalidField as error:
            raise ValueError(f"{error.field}: {error.reason}") from None


class Settings(BaseSettings):
    """Everything revsync can be configured with."""

    model_config = SettingsConfigDict(
        env_prefix="REVSYNC_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    ingestion: IngestionSettings = IngestionSettings()
    auth: AuthSettings = AuthSettings()
    logging: LoggingSettings = LoggingSettings()
    meters: list[MeterSettings] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # the environment overrides the file (passed as init values)
        return (env_settings, init_settings)

    @field_validator("meters")
    @classmethod
    def _unique_meter_keys(cls, meters: list[MeterSettings]) -> list[MeterSettings]:
        keys = [m.key for m in meters]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"meter keys must be unique; repeated: {', '.join(duplicates)}")
        return meters

    def audit_snapshot(self) -> dict[str, Any]:
        """The settings as the audit log keeps them: plain JSON data, passwords hidden."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = make_url(self.database.url).render_as_string(hide_password=True)
        return data

    def domain_meters(self) -> list[Meter]:
        """The declared meters as domain objects."""
        return [m.to_meter() for m in self.meters]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file, key and reason."""


def config_path(explicit: Path | None) -> Path | None:
    """The file to read: ``--config``, else ``$REVSYNC_CONFIG``, else ``./revsync.yaml`` if any."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def load_settings(path: Path | None) -> Settings:
    """Read and validate the settings; raise :class:`ConfigError` with a precise message."""
    data: dict[str, Any] = {}
    label = "environment"
    if path is not None:
        label = str(path)
        data = _read_yaml(path)
    try:
        settings = Settings(**data)
    except ValidationError as error:
        raise ConfigError(_describe(label, error)) from None
    if path is not None:
        settings = _anchor_sqlite_path(settings, path.resolve().parent)
    return settings


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found (run 'revsync init' to write one)"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read: {error}") from None
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of sections (database, server, …)"
        )
    return loaded


def _describe(label: str, error: ValidationError) -> str:
    lines = [f"{label}: invalid configuration"]
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        given = problem.get("input")
        shown = (
            ""
            if isinstance(given, dict | list) or problem["type"] == "missing"
            else f" (got {given!r})"
        )
        lines.append(f"  {key}: {message}{shown}")
    return "\n".join(lines)


def _anchor_sqlite_path(settings: Settings, base: Path) -> Settings:
    url = settings.database.url
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + "/") or url == "sqlite://":
        return settings
    rest = url[len(prefix) :]
    if rest.startswith(":memory:"):
        return settings
    absolute = f"{prefix}{(base / rest).resolve()}"
    return settings.model_copy(update={"database": DatabaseSettings(url=absolute)})
