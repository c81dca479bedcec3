"""Settings: one YAML file (``revsync.yaml``) plus ``REVSYNC_*`` environment overrides.

The file path comes from ``--config`` or ``REVSYNC_CONFIG``. Environment variables win over
the file; nested keys use ``__``: ``REVSYNC_DATABASE__URL=postgresql://…``. A relative SQLite
path is relative to the folder of the config file. Read by bootstrap only.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

from revsync.adapters.connectors.urls import check_url_syntax
from revsync.adapters.ratelimits import parse_limit
from revsync.adapters.schedules import valid_cron
from revsync.domain.billing import check_meters
from revsync.domain.collections import Assignee, Ladder, Policy, Restriction, Rung, check_ladder
from revsync.domain.coupons import Coupon, coupon_from_data
from revsync.domain.crm import FieldMap, Owner
from revsync.domain.deals import ProductMap
from revsync.domain.delivery import ANNOUNCED_EVENTS, STREAM_EVENTS, CircuitPolicy, RetryPolicy
from revsync.domain.errors import InvalidField
from revsync.domain.invoicing import LineKind
from revsync.domain.kpis import KpiPolicy
from revsync.domain.metering import Aggregation, Meter, new_meter
from revsync.domain.money import Rounding
from revsync.domain.posting import PostingRule, check_rules
from revsync.domain.pricing import RECURRING_MODELS, Plan, plan_from_mapping
from revsync.domain.renewals import Milestone
from revsync.domain.retention import RetentionPolicy
from revsync.domain.schemas import (
    Compatibility,
    SourceRule,
    UnknownTypes,
    check_schema,
    check_type_name,
    upcast_from,
)
from revsync.schemas import validation

CONFIG_ENV = "REVSYNC_CONFIG"
DEFAULT_CONFIG_NAME = "revsync.yaml"
EXAMPLE_CONFIG = Path(__file__).with_name("revsync.example.yaml")

Scalar = str | int | Decimal | bool | None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    """Where revsync keeps its data."""

    url: str = "sqlite:///revsync.db"

    @field_validator("url")
    @classmethod
    def _driver_installed(cls, url: str) -> str:
        scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme in ("postgresql", "postgres") and importlib.util.find_spec("psycopg") is None:
            raise ValueError(
                "PostgreSQL needs revsync's postgres extra: python3 -m pip install "
                "'revsync[postgres]'"
            )
        return url


class RateLimitSettings(_Section):
    """Requests per API key and usage events per product tenant (``limits`` notation:
    ``100/second``, ``5000/minute``; ``null`` for none). ``storage`` ``memory://`` counts in
    each process; ``redis://host:port/db`` shares the counts between API processes."""

    storage: str = "memory://"
    per_key: str | None = "1000/second"
    per_tenant: str | None = None
    #: key id → its own limit, in place of ``per_key``
    keys: dict[str, str] = Field(default_factory=dict)

    @field_validator("storage")
    @classmethod
    def _known_storage(cls, uri: str) -> str:
        scheme = uri.split("://", 1)[0]
        if "://" not in uri or scheme not in ("memory", "redis", "rediss"):
            raise ValueError("must be memory:// or a redis:// (rediss://) URL")
        if scheme != "memory" and importlib.util.find_spec("coredis") is None:
            raise ValueError(
                "Redis needs revsync's redis extra: python3 -m pip install 'revsync[redis]'"
            )
        return uri

    @field_validator("per_key", "per_tenant")
    @classmethod
    def _a_limit(cls, text: str | None) -> str | None:
        return None if text is None else _rate_limit(text)

    @field_validator("keys")
    @classmethod
    def _limits(cls, keys: dict[str, str]) -> dict[str, str]:
        return {k: _rate_limit(v) for k, v in keys.items()}


def _rate_limit(text: str) -> str:
    parse_limit(text, "limit")
    return text


class RouteLifecycleSettings(_Section):
    """A route on its way out: ``Deprecation`` from ``deprecated``, ``Sunset`` at ``sunset``,
    and a ``Link`` to what replaces it."""

    route: str = Field(pattern=r"^(GET|POST|PUT|PATCH|DELETE) /\S*$")
    deprecated: datetime
    sunset: datetime | None = None
    link: str | None = Field(default=None, pattern=r"^https?://\S+$")

    @field_validator("deprecated", "sunset")
    @classmethod
    def _aware(cls, moment: datetime | None) -> datetime | None:
        if moment is not None and moment.tzinfo is None:
            raise ValueError("needs a time zone offset, e.g. 2027-06-30T00:00:00Z")
        return moment


class ServerSettings(_Section):
    """The HTTP API."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    #: how long an Idempotency-Key and its answer are kept
    idempotency_hours: float = Field(default=24, gt=0, le=24 * 30)
    rate_limits: RateLimitSettings = RateLimitSettings()
    #: routes announced for removal (docs/governance.md, "Versioning")
    lifecycle: list[RouteLifecycleSettings] = Field(default_factory=list)


class IngestionSettings(_Section):
    """Limits on incoming usage."""

    max_batch_events: int = Field(default=10_000, ge=1, le=100_000)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_future_hours: float = Field(default=24, gt=0)
    group_commit_max: int = Field(default=32, ge=1, le=1024)
    #: processes that decode and validate large request bodies (over 64 KiB) beside the
    #: server, so that its one writer is not waiting for the interpreter lock; 0: decoded in a
    #: thread of the server (docs/deploy.md#ingestion-on-two-cores)
    decoders: int = Field(default=0, ge=0, le=16)


class AuthSettings(_Section):
    """API key checks."""

    cache_seconds: float = Field(default=2.0, ge=0, le=300)
    #: how long a sign-in to the operations console lasts
    console_session_hours: float = Field(default=8, gt=0, le=24 * 7)


def _cron(schedule: str | None) -> str | None:
    """A schedule as given, if it is a cron expression of five fields."""
    if schedule is not None and not valid_cron(schedule):
        raise ValueError(
            f"{schedule!r} is not a cron expression of five fields (minute hour day month "
            "weekday), e.g. '15 0 * * *'"
        )
    return schedule


class BillingSettings(_Section):
    """How invoices are made."""

    rounding: Rounding = Rounding.HALF_EVEN
    grace_period_hours: float = Field(default=72, ge=0, le=24 * 60)
    late_usage: Literal["next_invoice", "separate_invoice"] = "next_invoice"
    invoice_prefix: str = Field(default="INV", pattern=r"^[A-Z0-9-]{1,12}$")
    credit_note_prefix: str = Field(default="CN", pattern=r"^[A-Z0-9-]{1,12}$")
    #: one invoice per customer and issue date for the invoices of several subscriptions
    consolidate: bool = False
    #: when the worker runs billing on its own: a cron expression of five fields, in UTC
    #: (e.g. "15 0 * * *": every day at 00:15); None: billing runs only when asked
    schedule: str | None = None

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, schedule: str | None) -> str | None:
        return _cron(schedule)


class ReconciliationSettings(_Section):
    """Scheduled reconciliation (the worker runs it; ``revsync reconcile`` and the API run it
    when asked)."""

    #: when the worker reconciles on its own: a cron expression of five fields, in UTC; None:
    #: only when asked
    schedule: str | None = None
    #: how far back each scheduled run looks (documents issued in the last ``days`` days)
    days: int = Field(default=90, ge=1, le=3660)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, schedule: str | None) -> str | None:
        return _cron(schedule)


class EntitlementSettings(_Section):
    """Entitlement checks (docs/entitlements.md)."""

    #: a customer's snapshot is read again (in the background) once it is this old; an answer
    #: lags a change made in another process by at most twice this (usage this process
    #: ingests counts at once)
    cache_seconds: float = Field(default=5.0, ge=0, le=300)
    #: the snapshots of customers checked within this long are read again in the background as
    #: they age, checked since or not, so their checks answer from memory (0: only once checked)
    warm_seconds: float = Field(default=300.0, ge=0, le=86_400)
    #: count or sum meters whose events are refused at ingestion once a hard quota on them is
    #: reached (per event, ``quota_exceeded``)
    refuse_over_quota: list[str] = Field(default_factory=list)


class ThresholdSettings(_Section):
    """The threshold watcher (docs/thresholds.md): how often the worker looks at new usage
    for thresholds reached."""

    #: the worker looks at the usage ingested since its last look this often (a crossing is
    #: recorded within this and two looks of the usage that made it arriving); 0: never
    poll_seconds: float = Field(default=1.0, ge=0, le=3600)


class KpiSettings(_Section):
    """The business KPIs (docs/operations.md): how the worker measures what a query cannot
    answer at once (unbilled usage, the event-lag histogram)."""

    #: when the worker measures: a cron expression of five fields, in UTC; None: only when
    #: asked (``revsync kpis --measure``)
    schedule: str | None = "*/5 * * * *"
    #: unbilled usage is looked for among the events dated this many days back
    horizon_days: int = Field(default=400, ge=1, le=3660)
    #: sync completeness counts the messages written in the last this many hours
    window_hours: int = Field(default=24, ge=1, le=24 * 90)
    #: measurements are kept this many days (the console charts them)
    keep_days: int = Field(default=35, ge=1, le=3660)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, schedule: str | None) -> str | None:
        return _cron(schedule)

    def policy(self, renewal_window_days: int) -> KpiPolicy:
        return KpiPolicy(
            horizon=timedelta(days=self.horizon_days),
            window=timedelta(hours=self.window_hours),
            renewal_window=timedelta(days=renewal_window_days),
            keep=timedelta(days=self.keep_days),
        )


class RetentionSettings(_Section):
    """Retention (docs/operations.md, "Retention"): finished outbox messages with their
    attempts, dead letters and idempotency keys pruned once past their age; whatever a case,
    reconciliation or a later announcement still needs is kept."""

    #: when the worker prunes: a cron expression of five fields, in UTC; None: only when asked
    #: (``revsync prune``)
    schedule: str | None = "40 3 * * *"
    #: finished messages (delivered, skipped, closed by a case) are kept this many days after
    #: they finished; at least ``reconciliation.days`` and ``kpis.window_hours``; None: for ever
    outbox_days: int | None = Field(default=400, ge=1, le=36_600)
    #: dead letters are kept this many days after they arrived (quarantined events until they
    #: are released); None: for ever
    dead_letter_days: int | None = Field(default=180, ge=1, le=36_600)
    #: rows deleted per transaction (a SQLite writer waits at most for one batch)
    batch_size: int = Field(default=1000, ge=1, le=10_000)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, schedule: str | None) -> str | None:
        return _cron(schedule)

    def policy(self, keys: timedelta, reconciliation_days: int) -> RetentionPolicy:
        """The domain policy: idempotency keys kept ``keys`` (the API's own expiry), the
        messages of the documents of the last ``reconciliation_days`` days kept."""
        return RetentionPolicy(
            messages=None if self.outbox_days is None else timedelta(days=self.outbox_days),
            dead_letters=(
                None if self.dead_letter_days is None else timedelta(days=self.dead_letter_days)
            ),
            keys=keys,
            documents=timedelta(days=reconciliation_days),
            batch=self.batch_size,
        )


class UsageStorageSettings(_Section):
    """How stored usage is kept (docs/deploy.md#usage-storage). PostgreSQL: one table per
    month, made ahead by the worker, old months archived to a schema of their own. SQLite: one
    table; old months archived to Parquet files (``archive_after_months``, ``archive_dir``)."""

    #: when the worker makes the months' tables and archives: a cron expression of five
    #: fields, in UTC; None: never (events of months without a table wait in the default one)
    schedule: str | None = "20 1 * * *"
    #: the month of now and this many after it get their table ahead of their events
    months_ahead: int = Field(default=3, ge=1, le=24)
    #: a month is archived (detached from the live table, kept for lineage only) once it is
    #: this many months before the month of now; its usage is closed from then: events and
    #: amendments dated in it are refused. None: never
    archive_after_months: int | None = Field(default=None, ge=3, le=1200)
    #: how long a change of the tables waits for its locks before giving up until the next run
    lock_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    #: SQLite: the folder of the archived months' Parquet files (relative: to the folder of the
    #: config file); None: ``usage-archive`` beside the database file. Not read on PostgreSQL
    archive_dir: str | None = Field(default=None, min_length=1, max_length=4096)

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, schedule: str | None) -> str | None:
        return _cron(schedule)

    @field_validator("archive_dir")
    @classmethod
    def _valid_archive_dir(cls, folder: str | None) -> str | None:
        if folder is None:
            return None
        if "\x00" in folder or not folder.strip():
            raise ValueError("a folder's path, not blank")
        path = Path(folder)
        if path.is_absolute() and path.exists() and not path.is_dir():
            raise ValueError(f"{folder} is a file, not a folder")
        return folder


class TaxSettings(_Section):
    """The built-in tax table: country → tax code → rate in percent. Empty: no tax at all;
    otherwise every invoiced customer needs a country and a rate for each tax code billed."""

    rates: dict[str, dict[str, Decimal]] = Field(default_factory=dict)

    @field_validator("rates")
    @classmethod
    def _valid_rates(cls, rates: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        for country, codes in rates.items():
            if len(country) != 2 or not country.isupper():
                raise ValueError(f"{country!r}: countries are ISO 3166-1 alpha-2 codes (e.g. FR)")
            for code, rate in codes.items():
                if not Decimal(0) <= rate < Decimal(100):
                    raise ValueError(f"{country}.{code}: a rate is a percentage from 0 to 100")
        return rates


class RetrySettings(_Section):
    """When a destination's messages are tried again, and when they are given up."""

    base_seconds: float = Field(default=1.0, gt=0, le=3600)
    factor: float = Field(default=2.0, ge=1, le=10)
    max_delay_seconds: float = Field(default=300, gt=0, le=86_400)
    max_attempts: int = Field(default=10, ge=1, le=1000)
    max_age_hours: float = Field(default=72, gt=0, le=24 * 90)

    def policy(self) -> RetryPolicy:
        """The domain policy."""
        return RetryPolicy(
            self.base_seconds,
            self.factor,
            self.max_delay_seconds,
            self.max_attempts,
            timedelta(hours=self.max_age_hours),
        )


class CircuitSettings(_Section):
    """When a destination's circuit opens, and for how long."""

    failure_threshold: int = Field(default=5, ge=1, le=1000)
    open_seconds: float = Field(default=30, gt=0, le=3600)

    def policy(self) -> CircuitPolicy:
        """The domain policy."""
        return CircuitPolicy(self.failure_threshold, timedelta(seconds=self.open_seconds))


def known_events(events: list[str]) -> list[str]:
    """``events`` if revsync announces each of them, else refused naming the unknown ones."""
    unknown = sorted(set(events) - set(ANNOUNCED_EVENTS))
    if unknown:
        known = ", ".join(sorted(ANNOUNCED_EVENTS))
        raise ValueError(f"unknown event {', '.join(unknown)} (revsync announces {known})")
    return events


class DestinationSettings(_Section):
    """A system revsync delivers messages to."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    kind: Literal["webhook"] = "webhook"
    url: str
    lookup_url: str | None = None
    #: the variable holding the signing secret: ``whsec_<base64>``, or raw (its bytes are the key)
    secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    #: while a rotation lasts, the variable holding the previous secret (signed with too)
    previous_secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    #: "standard": webhook-signature; "revsync-v1": the older X-Revsync-Signature; "both"
    signature: Literal["standard", "revsync-v1", "both"] = "standard"
    events: list[str] = Field(min_length=1)
    timeout_seconds: float = Field(default=10, gt=0, le=300)
    concurrency: int = Field(default=4, ge=1, le=256)
    #: "customer": each customer's messages in order; "all": every message in one line
    order: Literal["customer", "all"] = "customer"
    rate_per_second: float | None = Field(default=None, gt=0)
    retry: RetrySettings = RetrySettings()
    circuit: CircuitSettings = CircuitSettings()

    @field_validator("url")
    @classmethod
    def _valid_url(cls, url: str) -> str:
        check_url_syntax(url)
        return url

    @field_validator("lookup_url")
    @classmethod
    def _valid_lookup_url(cls, url: str | None) -> str | None:
        if url is not None:
            check_url_syntax(url)
            if "{key}" not in url:
                raise ValueError("must contain {key}, where the idempotency key goes")
        return url

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        return known_events(events)

    @model_validator(mode="after")
    def _signing_needs_a_secret(self) -> DestinationSettings:
        if self.secret_env is None:
            if self.previous_secret_env is not None:
                raise ValueError("previous_secret_env needs a secret_env (the current secret)")
            if self.signature != "standard":
                raise ValueError(f"signature {self.signature} needs a secret_env")
        elif self.previous_secret_env == self.secret_env:
            raise ValueError("previous_secret_env must name another variable than secret_env")
        return self


class OutboxSettings(_Section):
    """Where revsync delivers what it announces."""

    destinations: list[DestinationSettings] = Field(default_factory=list)
    #: hosts that may resolve to loopback or private addresses (everything else may not)
    allow_private_hosts: list[str] = Field(default_factory=list)

    @field_validator("destinations")
    @classmethod
    def _unique_names(cls, destinations: list[DestinationSettings]) -> list[DestinationSettings]:
        _no_repeats([d.name for d in destinations], "destination names")
        return destinations


class EventStreamSettings(_Section):
    """revsync's own event stream: CloudEvents published through the outbox to a NATS
    JetStream stream (docs/events.md). Without ``nats_url``, none."""

    #: ``nats://host:4222`` (or ``tls://``); no user or password in it
    nats_url: str | None = None
    stream: str = Field(default="REVSYNC", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    #: each event goes to ``<subject_prefix>.<type>``
    subject_prefix: str = Field(default="revsync.events", pattern=r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$")
    #: the event types published (default: every one in STREAM_EVENTS)
    events: list[str] = Field(default_factory=lambda: list(STREAM_EVENTS), min_length=1)
    #: the CloudEvents ``source`` of every event (a URI-reference naming this revsync)
    source: str = Field(default="revsync", min_length=1, max_length=256)
    #: how long JetStream remembers a message id: a message sent again within it (a relay
    #: that stopped between publishing and recording) is stored once
    duplicate_window_seconds: float = Field(default=86_400, ge=60, le=7 * 86_400)
    #: how long the stream keeps events (consumers replay from a sequence or a time in it)
    max_age_days: float = Field(default=30, gt=0, le=3660)
    timeout_seconds: float = Field(default=10, gt=0, le=300)
    concurrency: int = Field(default=8, ge=1, le=256)
    retry: RetrySettings = RetrySettings()
    circuit: CircuitSettings = CircuitSettings()

    @field_validator("nats_url")
    @classmethod
    def _valid_url(cls, url: str | None) -> str | None:
        return cls.check_nats_url(url)

    @staticmethod
    def check_nats_url(url: str | None) -> str | None:
        """A NATS server's URL, refused with the reason."""
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("nats", "tls") or not parts.hostname:
                raise ValueError(f"{url!r}: must be nats://host[:port] or tls://host[:port]")
            if parts.username is not None or parts.password is not None:
                raise ValueError("must not carry a user name or password")
            if importlib.util.find_spec("nats") is None:
                raise ValueError(
                    "NATS needs revsync's nats extra: python3 -m pip install 'revsync[nats]'"
                )
        return url

    @field_validator("events")
    @classmethod
    def _known_events(cls, events: list[str]) -> list[str]:
        return known_events(events)


class UsageStreamSettings(_Section):
    """Usage read from a NATS JetStream stream product platforms publish to (docs/events.md,
    "Usage in from a stream"): one CloudEvent per message, through a durable pull consumer,
    acknowledged after the events are stored. Without ``nats_url``, none."""

    #: ``nats://host:4222`` (or ``tls://``); no user or password in it
    nats_url: str | None = None
    stream: str = Field(default="USAGE", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    #: the subjects read (a NATS wildcard); the stream is made with them when it is missing
    subject: str = Field(default="usage.>", pattern=r"^[A-Za-z0-9_*>-]+(\.[A-Za-z0-9_*>-]+)*$")
    #: the durable consumer (every worker shares it: each message goes to one of them)
    durable: str = Field(default="revsync-usage", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    #: messages fetched, stored in one batch and acknowledged together
    batch: int = Field(default=500, ge=1, le=10_000)
    #: how long a fetch waits for messages
    max_wait_seconds: float = Field(default=1.0, gt=0, le=60)
    #: a message not acknowledged within this is delivered again (and deduplicated)
    ack_wait_seconds: float = Field(default=60, ge=1, le=3600)
    #: batches a worker has in hand at once (one fetched while another is stored)
    fetchers: int = Field(default=2, ge=1, le=16)

    @field_validator("nats_url")
    @classmethod
    def _valid_url(cls, url: str | None) -> str | None:
        return EventStreamSettings.check_nats_url(url)


class PostingRuleSettings(_Section):
    """Lines matching every given criterion post to ``product`` and ``account`` (an account
    code of the ERP's chart); the most specific rule wins (charge, then kind, then currency)."""

    product: str = Field(min_length=1, max_length=64)
    account: str = Field(min_length=1, max_length=32)
    charge: str | None = Field(default=None, pattern=r"^[a-z0-9_-]+:[a-z0-9_-]+$")
    kind: LineKind | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")

    def rule(self) -> PostingRule:
        """The domain rule."""
        return PostingRule(self.product, self.account, self.charge, self.kind, self.currency)


class _RemoteSettings(_Section):
    """A system revsync connects to: its URL (None: not configured), the timeout of each call,
    retries and circuit breaker of its outbox destination, and how often the worker syncs."""

    url: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    retry: RetrySettings = RetrySettings()
    circuit: CircuitSettings = CircuitSettings()
    sync_interval_seconds: float = Field(default=300, ge=5, le=86_400)

    @field_validator("url")
    @classmethod
    def _valid_url(cls, url: str | None) -> str | None:
        if url is not None:
            check_url_syntax(url)
        return url


class ErpSettings(_RemoteSettings):
    """The ERP revsync posts invoices to (Tryton, over JSON-RPC). Without ``url``, none."""

    kind: Literal["tryton"] = "tryton"
    database: str = "revsync"
    login: str = "admin"
    password_env: str = Field(default="REVSYNC_ERP_PASSWORD", pattern=r"^[A-Z_][A-Z0-9_]*$")
    #: the company revsync posts for (the name of its party), and its currency
    company: str = Field(default="revsync", min_length=1)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    #: an invoice dated in a closed period: post it on the first day of the next open period
    #: (recorded in the audit log), or hold it in an exception case
    period_policy: Literal["roll_forward", "hold"] = "roll_forward"
    #: the years ``revsync erp provision`` opens (default: this year and the next)
    fiscal_years: list[int] = Field(default_factory=list)
    receivable_account: str = "1.2.1"
    payable_account: str = "2.1.1"
    tax_account: str = "2.2.3"
    deferred_revenue_account: str = "2.2.2"
    cash_account: str = "1.1.1"
    payment_term_days: int = Field(default=30, ge=0, le=365)
    dunning_days: list[int] = Field(default_factory=lambda: [15, 45, 75])
    #: invoices posted per call, in order (drafts made, then posted together; a refusal
    #: stops the batch there and holds only what follows it); 1 posts them one at a time
    batch_size: int = Field(default=20, ge=1, le=200)
    posting_rules: list[PostingRuleSettings] = Field(
        default_factory=lambda: [PostingRuleSettings(product="REVSYNC", account="4.1.2")]
    )

    def rules(self) -> list[PostingRule]:
        """The posting rules as domain rules."""
        return [r.rule() for r in self.posting_rules]


AccountRole = Literal["name", "parent", "country", "customer_id"]
ContractRole = Literal["plan", "seats", "renewal_date", "amendment_date"]
SignalRole = Literal[
    "adoption",
    "billing_status",
    "last_invoice_amount",
    "overdue",
    "health_score",
    "risk_flags",
    "renewal_readiness",
    "renewal_assessment",
]
#: the account fields revsync reads by default (the CRM owns them)
_ACCOUNT_FIELDS: dict[AccountRole, str] = {
    "name": "Name",
    "parent": "ParentId",
    "country": "BillingCountry",
    "customer_id": "Revsync_Customer_Id__c",
}
#: the contract fields revsync reads by default besides the standard ones (the CRM owns them)
_CONTRACT_FIELDS: dict[ContractRole, str] = {
    "plan": "Plan__c",
    "seats": "Seats__c",
    "renewal_date": "Renewal_Date__c",
    "amendment_date": "Amendment_Date__c",
}
#: the account fields revsync writes by default (revsync owns them)
_SIGNAL_FIELDS: dict[SignalRole, str] = {
    "adoption": "Revsync_Adoption__c",
    "billing_status": "Revsync_Billing_Status__c",
    "last_invoice_amount": "Revsync_Last_Invoice_Amount__c",
    "overdue": "Revsync_Overdue__c",
    "health_score": "Revsync_Health_Score__c",
    "risk_flags": "Revsync_Risk_Flags__c",
    "renewal_readiness": "Revsync_Renewal_Readiness__c",
    "renewal_assessment": "Revsync_Renewal_Assessment__c",
}
#: standard fields revsync reads (the CRM owns them)
_STANDARD_FIELDS = {
    "Account": ("Id", "SystemModstamp", "IsDeleted"),
    "Contract": (
        "Id",
        "AccountId",
        "Status",
        "StartDate",
        "ContractTerm",
        "EndDate",
        "OwnerId",
        "SystemModstamp",
        "IsDeleted",
    ),
}
#: the field revsync's own tasks and opportunities carry their key in (revsync owns it)
KEY_FIELD = "Revsync_Key__c"
_FIELD_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"


SupportRole = Literal[
    "plan",
    "renewal_date",
    "overdue_amount",
    "dunning_level",
    "health_score",
    "credit_amount",
    "credit_percent",
    "credit_invoice",
    "credit_reason",
]
#: the ticket fields revsync writes (revsync owns them) and, ``credit_*``, the fields agents ask
#: a service credit with (revsync reads them), by default title
_SUPPORT_FIELDS: dict[SupportRole, str] = {
    "plan": "revsync plan",
    "renewal_date": "revsync renewal date",
    "overdue_amount": "revsync overdue amount",
    "dunning_level": "revsync dunning level",
    "health_score": "revsync health score",
    "credit_amount": "Service credit amount",
    "credit_percent": "Service credit percent",
    "credit_invoice": "Service credit invoice",
    "credit_reason": "Service credit reason",
}


class SupportSettings(_RemoteSettings):
    """The support tool revsync enriches tickets in (Zendesk's Support API; ``url``: the
    account, e.g. https://acme.zendesk.com). Without ``url``, none."""

    kind: Literal["zendesk"] = "zendesk"
    #: the agent the API token belongs to
    email: str = Field(default="revsync@example.com", min_length=3, max_length=254)
    token_env: str = Field(default="REVSYNC_SUPPORT_TOKEN", pattern=r"^[A-Z_][A-Z0-9_]*$")
    #: a certificate (bundle) to trust besides the system's, e.g. the support sandbox's
    ca_file: str | None = None
    #: revsync's ticket fields by role → their titles in the support tool
    fields: dict[SupportRole, str] = Field(default_factory=lambda: dict(_SUPPORT_FIELDS))
    #: the variable holding the signing secret of the tool's webhook to ``POST
    #: /v1/support/webhook`` (None: that route is off; the sync reads every ticket anyway)
    webhook_secret_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    #: the tag an agent puts on a ticket to ask for a service credit (its fields say how much)
    credit_tag: str = Field(default="service_credit", pattern=r"^[a-z0-9_:-]{1,80}$")
    #: a service credit over this (in the invoice's currency) is refused on the ticket
    credit_limit: Decimal = Field(default=Decimal("1000"), gt=0, max_digits=18)
    #: an organization whose external id is a customer's id, or its CRM account id, is mapped
    #: to that customer when no customer holds it yet
    match_external_id: bool = True
    #: read again this much before the watermark (changes committed late)
    overlap_seconds: float = Field(default=120, ge=0, le=86_400)
    sync_interval_seconds: float = Field(default=60, ge=5, le=86_400)

    @field_validator("fields")
    @classmethod
    def _titled(cls, titles: dict[str, str]) -> dict[str, str]:
        for role, title in titles.items():
            if not title.strip() or len(title) > 200:
                raise ValueError(f"{role}: a ticket field title of 1-200 characters")
        twice = sorted({t for t in titles.values() if list(titles.values()).count(t) > 1})
        if twice:
            raise ValueError(f"each role needs a field of its own: {', '.join(twice)} repeated")
        return titles


class MilestoneSettings(_Section):
    """An onboarding milestone: ``meter`` at ``at_least`` within ``within_days`` of a
    subscription's start."""

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")
    meter: str
    at_least: Decimal = Field(default=Decimal(1), gt=0, max_digits=18)
    within_days: int = Field(ge=1, le=365)

    def milestone(self) -> Milestone:
        return Milestone(self.key, self.meter, self.at_least, self.within_days)


class RenewalSettings(_Section):
    """Renewal intelligence (docs/quote-to-cash.md): the horizons before a renewal at which each
    subscription is assessed and announced (``renewal.assessed``: a CRM task when at risk, an
    expansion opportunity, the account's assessment field)."""

    horizons_days: list[int] = Field(default_factory=lambda: [90, 60, 30], max_length=12)
    #: how often the worker looks for renewals that reached a horizon, and milestones
    interval_seconds: float = Field(default=3600, ge=60, le=86_400)
    #: onboarding milestones of each new subscription, told to the CRM reached or missed
    milestones: list[MilestoneSettings] = Field(default_factory=list, max_length=50)

    @field_validator("horizons_days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        for index, day in enumerate(days):
            if not 1 <= day <= 730:
                raise ValueError(f"{index}: a horizon of 1 to 730 days")
        if len(set(days)) != len(days):
            raise ValueError("each horizon once")
        return days

    @field_validator("milestones")
    @classmethod
    def _keys(cls, milestones: list[MilestoneSettings]) -> list[MilestoneSettings]:
        keys = [m.key for m in milestones]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        if twice:
            raise ValueError(f"each milestone key once: {', '.join(twice)} repeated")
        return milestones


class CollectionsRungSettings(_Section):
    """One rung of the collections ladder: what reaching an ERP dunning level does."""

    level: int = Field(ge=1, le=20)
    #: a CRM task for the account's owner or its success manager
    task: Literal["owner", "success_manager"] | None = None
    #: a tag (``revsync_collections``) on the customer's open tickets
    flag_tickets: bool = False
    #: restrict the named features while the customer is at or below this rung
    entitlements: Literal["soft_limit", "suspend"] | None = None
    features: list[str] = Field(default_factory=list, max_length=100)

    def rung(self) -> Rung:
        restriction = (
            Restriction(Policy(self.entitlements), tuple(self.features))
            if self.entitlements
            else None
        )
        task = Assignee(self.task) if self.task else None
        return Rung(self.level, task, self.flag_tickets, restriction)


def _default_rungs() -> list[CollectionsRungSettings]:
    return [
        CollectionsRungSettings(level=1, task="owner"),
        CollectionsRungSettings(level=2, task="success_manager", flag_tickets=True),
    ]


class CollectionsSettings(_Section):
    """The collections ladder on the ERP's dunning levels (docs/support.md): each rung's steps
    are taken when a customer's highest dunning level reaches it, and undone when the ERP says
    the invoices are paid. Level 3's restriction is off until configured."""

    enabled: bool = True
    rungs: list[CollectionsRungSettings] = Field(default_factory=_default_rungs, max_length=20)
    #: the account field naming the customer's success manager (a user id; the CRM owns it);
    #: an account without one gets the success manager's task for its owner
    success_manager_field: str = Field(default="Success_Manager__c", pattern=_FIELD_NAME)

    @model_validator(mode="after")
    def _one_ladder(self) -> CollectionsSettings:
        for index, rung in enumerate(self.rungs):
            if rung.entitlements and not rung.features:
                raise ValueError(f"rungs.{index}.features: name the features it restricts")
            if rung.features and not rung.entitlements:
                raise ValueError(f"rungs.{index}.entitlements: soft_limit or suspend the features")
        try:
            check_ladder([r.rung() for r in self.rungs])
        except ValueError as error:
            raise ValueError(f"rungs: {error}") from None
        return self

    def ladder(self) -> Ladder:
        return check_ladder([r.rung() for r in self.rungs])


def crm_field_names(names: dict[str, str]) -> dict[str, str]:
    """CRM field names by role, each checked (raises ValueError naming the role)."""
    for role, name in names.items():
        if not re.match(_FIELD_NAME, name):
            raise ValueError(f"{role}: {name!r} is not a CRM field name")
    return names


class ProductSettings(_Section):
    """What a CRM product is in revsync: a recurring charge (flat or per seat) of a plan."""

    plan: str = Field(min_length=1, max_length=64)
    charge: str = Field(min_length=1, max_length=64)

    def product_map(self) -> ProductMap:
        return ProductMap(self.plan, self.charge)


OpportunityRole = Literal["subscription_id", "subscription_status"]
#: the opportunity fields revsync writes back (revsync owns them)
_OPPORTUNITY_FIELDS: dict[OpportunityRole, str] = {
    "subscription_id": "Revsync_Subscription_Id__c",
    "subscription_status": "Revsync_Subscription_Status__c",
}
#: the opportunity fields revsync reads (the CRM owns them)
OPPORTUNITY_READ = (
    "Id",
    "AccountId",
    "Name",
    "StageName",
    "IsWon",
    "CloseDate",
    "Type",
    "ContractId",
    "SystemModstamp",
    "IsDeleted",
)


class QuoteToCashSettings(_Section):
    """Quote-to-cash (docs/quote-to-cash.md): each won CRM opportunity whose products are all
    mapped here becomes a subscription (new business) or more seats on one (an add-on), a sale
    order in the ERP, and invoices through billing. Off while ``products`` is empty."""

    #: the CRM's product codes → the plan's recurring charge each sells
    products: dict[str, ProductSettings] = Field(default_factory=dict, max_length=1000)
    #: opportunities closed before this day are history, never taken (None: every won one)
    won_since: date | None = None
    #: a new subscription renews this many months after its start
    term_months: int = Field(default=12, ge=1, le=120)
    #: an opportunity of these types without a contract adds to the account's one subscription
    add_on_types: list[str] = Field(default_factory=lambda: ["Expansion"], max_length=20)
    #: whether the CRM keeps several currencies (then ``CurrencyIsoCode`` is read)
    multi_currency: bool = False
    #: the opportunity fields revsync writes back (revsync owns them)
    opportunity_fields: dict[OpportunityRole, str] = Field(
        default_factory=lambda: dict(_OPPORTUNITY_FIELDS)
    )

    @field_validator("opportunity_fields")
    @classmethod
    def _names(cls, names: dict[str, str]) -> dict[str, str]:
        return crm_field_names(names)

    @property
    def enabled(self) -> bool:
        return bool(self.products)

    def product_maps(self) -> dict[str, ProductMap]:
        return {code: item.product_map() for code, item in self.products.items()}

    def opportunity_read_fields(self) -> list[str]:
        return [*OPPORTUNITY_READ, *(["CurrencyIsoCode"] if self.multi_currency else [])]


class CrmSettings(_RemoteSettings):
    """The CRM revsync syncs with (Salesforce's REST API; ``url``: the instance, e.g.
    https://acme.my.salesforce.com). Without ``url``, none."""

    kind: Literal["salesforce"] = "salesforce"
    auth: Literal["client_credentials", "password"] = "client_credentials"
    client_id: str = Field(default="revsync", min_length=1)
    client_secret_env: str = Field(
        default="REVSYNC_CRM_CLIENT_SECRET", pattern=r"^[A-Z_][A-Z0-9_]*$"
    )
    username: str | None = None
    password_env: str = Field(default="REVSYNC_CRM_PASSWORD", pattern=r"^[A-Z_][A-Z0-9_]*$")
    #: a certificate (bundle) to trust besides the system's, e.g. the CRM sandbox's
    ca_file: str | None = None
    api_version: str = Field(default="59.0", pattern=r"^\d{2}\.\d$")
    #: customers created from CRM accounts get these until someone sets them
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    timezone: str = "UTC"
    #: the CRM's plan names → revsync plan codes (a plan not listed is used as it is)
    plans: dict[str, str] = Field(default_factory=dict)
    #: a contract bills the usage of its account's subsidiaries too
    include_children: bool = True
    account_fields: dict[AccountRole, str] = Field(default_factory=lambda: dict(_ACCOUNT_FIELDS))
    contract_fields: dict[ContractRole, str] = Field(default_factory=lambda: dict(_CONTRACT_FIELDS))
    signal_fields: dict[SignalRole, str] = Field(default_factory=lambda: dict(_SIGNAL_FIELDS))
    #: a renewal this close (days) is assessed: ready or at risk
    renewal_window_days: int = Field(default=90, ge=1, le=730)
    #: usage above the entitlement this many periods in a row → an expansion opportunity
    expansion_periods: int = Field(default=2, ge=1, le=24)
    #: re-read this much before the watermark (changes committed late)
    overlap_seconds: float = Field(default=300, ge=0, le=86_400)
    #: slow down when less than this share of the daily request budget is left
    budget_reserve_percent: float = Field(default=10, ge=0, le=90)
    #: how long to wait when the CRM says the daily budget is spent (it gives no hint)
    limit_pause_seconds: float = Field(default=900, ge=0.1, le=86_400)

    @field_validator("account_fields", "contract_fields", "signal_fields")
    @classmethod
    def _valid_names(cls, names: dict[str, str]) -> dict[str, str]:
        return crm_field_names(names)

    def check(self) -> None:
        """revsync writes only fields it owns; the password flow names its user (raises
        ValueError naming the key)."""
        read = set(self.account_fields.values()) | set(_STANDARD_FIELDS["Account"])
        for role, name in self.signal_fields.items():
            if name in read:
                raise ValueError(
                    f"crm.signal_fields.{role}: Account.{name} is read from the CRM (the CRM "
                    "owns it); revsync writes only fields it owns"
                )
        if self.auth == "password" and not self.username:
            raise ValueError("crm.username: required with auth: password")

    def field_map(
        self, *read: str, opportunity: Iterable[str] = _OPPORTUNITY_FIELDS.values()
    ) -> FieldMap:
        """Every field revsync reads (the CRM's; ``read``: more account fields) or writes
        (revsync's: the signals, the key of its own tasks and opportunities, the status of
        its own tasks, which it completes when what raised them is over, and ``opportunity``:
        what a won opportunity became)."""
        owners: dict[str, Owner] = {f"Account.{n}": Owner.CRM for n in read}
        for sobject, names in _STANDARD_FIELDS.items():
            owners.update({f"{sobject}.{n}": Owner.CRM for n in names})
        owners.update({f"Account.{n}": Owner.CRM for n in self.account_fields.values()})
        owners.update({f"Contract.{n}": Owner.CRM for n in self.contract_fields.values()})
        owners.update({f"Account.{n}": Owner.REVSYNC for n in self.signal_fields.values()})
        owners.update({f"{o}.{KEY_FIELD}": Owner.REVSYNC for o in ("Task", "Opportunity")})
        owners["Task.Status"] = Owner.REVSYNC
        owners.update({f"Opportunity.{n}": Owner.CRM for n in OPPORTUNITY_READ})
        owners.update({f"Opportunity.{n}": Owner.REVSYNC for n in opportunity})
        return FieldMap(owners)

    def account_read_fields(self) -> list[str]:
        return [*_STANDARD_FIELDS["Account"], *self.account_fields.values()]

    def contract_read_fields(self) -> list[str]:
        return [*_STANDARD_FIELDS["Contract"], *self.contract_fields.values()]


class WorkerSettings(_Section):
    """The relay that delivers the outbox."""

    lease_seconds: float = Field(default=60, ge=1, le=3600)
    poll_seconds: float = Field(default=0.2, gt=0, le=60)
    #: how long a worker holds a job (ERP sync, CRM sync, billing) before renewing its lease;
    #: a worker that dies holding one lets another take the job after this long
    job_lease_seconds: float = Field(default=60, ge=1, le=3600)


class AuditSettings(_Section):
    """The audit chain. With the key set, each link is an HMAC-SHA256 that nobody without
    it can recompute; without it, plain SHA-256 (a warning at start-up). The key is the
    variable's value as UTF-8 bytes, at least 32 of them (e.g. ``openssl rand -hex 32``)."""

    key_env: str = Field(default="REVSYNC_AUDIT_KEY", pattern=r"^[A-Z_][A-Z0-9_]*$")


class LoggingSettings(_Section):
    """Structured logs on standard error."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


class TracingSettings(_Section):
    """Traces (docs/operations.md, "Traces"): the W3C trace context always travels from a
    request to the deliveries it caused; spans are recorded and exported only with an OTLP
    endpoint."""

    #: where spans go, OTLP over HTTP (e.g. http://collector:4318/v1/traces); None: not
    #: recorded
    otlp_endpoint: str | None = None
    service_name: str = Field(default="revsync", min_length=1, max_length=100)
    #: the share of new traces recorded (a request's own trace flag decides for its trace)
    sample_ratio: float = Field(default=1.0, ge=0, le=1)

    @field_validator("otlp_endpoint")
    @classmethod
    def _valid_endpoint(cls, url: str | None) -> str | None:
        if url is not None:
            check_url_syntax(url)
        return url


class MeterSettings(_Section):
    """A meter: which events it reads and how it aggregates them."""

    key: str
    event_type: str
    aggregation: Aggregation
    value: str | None = None
    filters: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    group_by: list[str] = Field(default_factory=list)
    allow_negative: bool = False
    #: the value is held from one event to the next and billed by the day (docs/billing.md)
    carried: bool = False

    @model_validator(mode="after")
    def _valid_meter(self) -> MeterSettings:
        self.to_meter()
        return self

    def to_meter(self) -> Meter:
        """The domain meter (raises ``ValueError`` naming the field if invalid)."""
        try:
            return new_meter(
                self.key,
                self.event_type,
                self.aggregation,
                self.value,
                self.filters,
                self.group_by,
                allow_negative=self.allow_negative,
                carried=self.carried,
            )
        except InvalidField as error:
            raise ValueError(f"{error.field}: {error.reason}") from None


class SchemaVersionSettings(_Section):
    """One version of an event type's data schema (``upcast``: the field map from the
    version before: ``rename``, ``defaults``, ``drop``)."""

    version: int = Field(ge=1, le=1000)
    schema_: dict[str, Any] | bool = Field(alias="schema")
    upcast: dict[str, Any] | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SchemaTypeSettings(_Section):
    """An event type's schemas, numbered from 1 without gaps."""

    compatibility: Compatibility = Compatibility.BACKWARD
    versions: list[SchemaVersionSettings] = Field(min_length=1)

    @model_validator(mode="after")
    def _numbered_and_checked(self) -> SchemaTypeSettings:
        for index, entry in enumerate(self.versions):
            if entry.version != index + 1:
                raise ValueError(
                    f"versions.{index}.version: expected {index + 1} (from 1, without gaps)"
                )
            try:
                check_schema(entry.schema_, self.compatibility)
                upcast_from(entry.upcast, "upcast")
            except InvalidField as error:
                raise ValueError(f"versions.{index}.{error.field}: {error.reason}") from None
        return self


class SourcePolicySettings(_Section):
    """The unknown-type policy of one source (``source``: exactly it; ``source_prefix``:
    every source starting with it)."""

    source: str | None = Field(default=None, min_length=1, max_length=256)
    source_prefix: str | None = Field(default=None, min_length=1, max_length=256)
    unknown_types: UnknownTypes

    @model_validator(mode="after")
    def _one_match(self) -> SourcePolicySettings:
        if (self.source is None) == (self.source_prefix is None):
            raise ValueError("give either source or source_prefix")
        return self

    def rule(self) -> SourceRule:
        if self.source is not None:
            return SourceRule(self.source, self.unknown_types)
        return SourceRule(self.source_prefix or "", self.unknown_types, prefix=True)


class SchemaSettings(_Section):
    """The schema registry: versioned JSON Schemas of event data per type, and what happens
    to events of types without one (docs/governance.md)."""

    unknown_types: UnknownTypes = UnknownTypes.ACCEPT
    sources: list[SourcePolicySettings] = Field(default_factory=list)
    refresh_seconds: float = Field(default=5, ge=0.1, le=3600)
    types: dict[str, SchemaTypeSettings] = Field(default_factory=dict)

    @field_validator("types")
    @classmethod
    def _type_names(cls, types: dict[str, SchemaTypeSettings]) -> dict[str, SchemaTypeSettings]:
        for name in types:
            try:
                check_type_name(name)
            except InvalidField as error:
                raise ValueError(f"{name}: {error.reason}") from None
        return types


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
    tracing: TracingSettings = TracingSettings()
    audit: AuditSettings = AuditSettings()
    meters: list[MeterSettings] = Field(default_factory=list)
    billing: BillingSettings = BillingSettings()
    reconciliation: ReconciliationSettings = ReconciliationSettings()
    kpis: KpiSettings = KpiSettings()
    usage_storage: UsageStorageSettings = UsageStorageSettings()
    retention: RetentionSettings = RetentionSettings()
    entitlements: EntitlementSettings = EntitlementSettings()
    thresholds: ThresholdSettings = ThresholdSettings()
    tax: TaxSettings = TaxSettings()
    outbox: OutboxSettings = OutboxSettings()
    events: EventStreamSettings = EventStreamSettings()
    usage_stream: UsageStreamSettings = UsageStreamSettings()
    erp: ErpSettings = ErpSettings()
    crm: CrmSettings = CrmSettings()
    support: SupportSettings = SupportSettings()
    collections: CollectionsSettings = CollectionsSettings()
    renewals: RenewalSettings = RenewalSettings()
    quote_to_cash: QuoteToCashSettings = QuoteToCashSettings()
    worker: WorkerSettings = WorkerSettings()
    schemas: SchemaSettings = SchemaSettings()
    plans: list[dict[str, Any]] = Field(
        default_factory=list, description="Plans (code, name, currency, interval, charges …)"
    )
    coupons: list[dict[str, Any]] = Field(default_factory=list)

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

    @field_validator("plans")
    @classmethod
    def _valid_plans(cls, plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
        codes: list[str] = []
        for index, data in enumerate(plans):
            plan = _plan(data, index)
            if plan.code in codes:
                raise ValueError(f"{index}.code: plan {plan.code!r} is declared twice")
            codes.append(plan.code)
        return plans

    @field_validator("coupons")
    @classmethod
    def _valid_coupons(cls, coupons: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, data in enumerate(coupons):
            _coupon(data, index)
        return coupons

    @model_validator(mode="after")
    def _timeouts_within_the_lease(self) -> Settings:
        for index, destination in enumerate(self.outbox.destinations):
            if destination.timeout_seconds * 2 > self.worker.lease_seconds:
                raise ValueError(
                    f"outbox.destinations.{index}.timeout_seconds: at most half of "
                    f"worker.lease_seconds ({self.worker.lease_seconds:g}), so that an attempt "
                    "ends before its lease"
                )
        return self

    @model_validator(mode="after")
    def _messages_kept_as_long_as_they_are_read(self) -> Settings:
        """Reconciliation compares the ERP with the messages of its window's documents, and
        sync completeness counts the messages of its window: neither may be pruned."""
        days = self.retention.outbox_days
        if days is None:
            return self
        if days < self.reconciliation.days:
            raise ValueError(
                f"retention.outbox_days: at least reconciliation.days ({self.reconciliation.days})"
                ", or reconciliation would find the ERP's documents of pruned messages unknown"
            )
        if days * 24 < self.kpis.window_hours:
            raise ValueError(
                f"retention.outbox_days: at least kpis.window_hours ({self.kpis.window_hours}) "
                "in days, or sync completeness would leave pruned messages out of its window"
            )
        return self

    @model_validator(mode="after")
    def _usage_archive_can_be_written(self) -> Settings:
        """SQLite archives old months to Parquet files: that takes pyarrow, and a folder."""
        storage = self.usage_storage
        if storage.archive_after_months is None or not _is_sqlite_url(self.database.url):
            return self
        if importlib.util.find_spec("pyarrow") is None:
            raise ValueError(
                "usage_storage.archive_after_months: on SQLite, old months are archived to "
                "Parquet files, which needs revsync's archive extra: python3 -m pip install "
                "'revsync[archive]'"
            )
        if storage.archive_dir is None and _sqlite_file(self.database.url) is None:
            raise ValueError(
                "usage_storage.archive_dir: needed to archive usage of an in-memory SQLite "
                "database (there is no database file to keep the archive beside)"
            )
        return self

    @model_validator(mode="after")
    def _every_plan_line_posts_somewhere(self) -> Settings:
        if self.erp.url is not None and any(d.name == "erp" for d in self.outbox.destinations):
            raise ValueError("outbox.destinations: the name 'erp' is the ERP's when erp.url is set")
        if self.crm.url is not None and any(d.name == "crm" for d in self.outbox.destinations):
            raise ValueError("outbox.destinations: the name 'crm' is the CRM's when crm.url is set")
        if self.support.url is not None and any(
            d.name == "support" for d in self.outbox.destinations
        ):
            raise ValueError(
                "outbox.destinations: the name 'support' is the support tool's when support.url "
                "is set"
            )
        if self.events.nats_url is not None and any(
            d.name == "events" for d in self.outbox.destinations
        ):
            raise ValueError(
                "outbox.destinations: the name 'events' is the event stream's when "
                "events.nats_url is set"
            )
        if self.events.nats_url is not None and (
            self.events.timeout_seconds * 2 > self.worker.lease_seconds
        ):
            raise ValueError(
                f"events.timeout_seconds: at most half of worker.lease_seconds "
                f"({self.worker.lease_seconds:g})"
            )
        self.crm.check()
        if self.erp.url is not None:
            try:
                check_rules(self.erp.rules(), self.domain_plans())
            except InvalidField as error:
                raise ValueError(f"{error.field}: {error.reason}") from None
        if self.erp.url is not None and self.erp.timeout_seconds * 2 > self.worker.lease_seconds:
            raise ValueError(
                f"erp.timeout_seconds: at most half of worker.lease_seconds "
                f"({self.worker.lease_seconds:g})"
            )
        return self

    @model_validator(mode="after")
    def _products_sell_recurring_charges(self) -> Settings:
        """Each mapped CRM product names a recurring (flat or per-seat) charge of a plan, when
        the plan is configured here (one made over the API is checked when a deal uses it)."""
        products = self.quote_to_cash.products
        if products and self.crm.url is None:
            raise ValueError("quote_to_cash.products: quote-to-cash reads the CRM (set crm.url)")
        plans = {plan.code: plan for plan in self.domain_plans()}
        for code, product in products.items():
            plan = plans.get(product.plan)
            if plan is None:
                continue
            charge = next((c for c in plan.charges if c.key == product.charge), None)
            if charge is None or charge.model not in RECURRING_MODELS:
                raise ValueError(
                    f"quote_to_cash.products.{code}: plan {plan.code!r} has no recurring "
                    f"charge {product.charge!r} (a product sells a flat or per-seat fee)"
                )
        return self

    @model_validator(mode="after")
    def _enforced_meters_count_or_sum(self) -> Settings:
        meters = self.meter_map()
        for index, key in enumerate(self.entitlements.refuse_over_quota):
            meter = meters.get(key)
            if meter is None:
                raise ValueError(f"entitlements.refuse_over_quota.{index}: no meter {key!r}")
            if meter.aggregation not in (Aggregation.COUNT, Aggregation.SUM):
                raise ValueError(
                    f"entitlements.refuse_over_quota.{index}: meter {key!r} is "
                    f"{meter.aggregation.value}; only count and sum meters can be refused event "
                    "by event"
                )
        return self

    @model_validator(mode="after")
    def _milestones_count_declared_meters(self) -> Settings:
        meters = self.meter_map()
        for index, milestone in enumerate(self.renewals.milestones):
            if milestone.meter not in meters:
                raise ValueError(f"renewals.milestones.{index}.meter: no meter {milestone.meter!r}")
        return self

    @model_validator(mode="after")
    def _plans_use_declared_meters(self) -> Settings:
        meters = self.meter_map()
        for index, data in enumerate(self.plans):
            try:
                check_meters(_plan(data, index), meters)
            except InvalidField as error:
                raise ValueError(f"plans.{index}.{error.field}: {error.reason}") from None
        return self

    def meter_map(self) -> dict[str, Meter]:
        """The declared meters by key."""
        return {m.key: m.to_meter() for m in self.meters}

    def domain_plans(self) -> list[Plan]:
        """The declared plans (each as version 1 of its code; the store numbers versions)."""
        return [_plan(data, index) for index, data in enumerate(self.plans)]

    def domain_coupons(self) -> list[Coupon]:
        """The declared coupons."""
        return [_coupon(data, index) for index, data in enumerate(self.coupons)]

    @field_validator("meters")
    @classmethod
    def _unique_meter_keys(cls, meters: list[MeterSettings]) -> list[MeterSettings]:
        _no_repeats([m.key for m in meters], "meter keys")
        return meters

    def audit_snapshot(self) -> dict[str, Any]:
        """The settings as the audit log keeps them: plain JSON data, passwords hidden."""
        data = self.model_dump(mode="json")
        data["database"]["url"] = make_url(self.database.url).render_as_string(hide_password=True)
        return data

    def domain_meters(self) -> list[Meter]:
        """The declared meters as domain objects."""
        return [m.to_meter() for m in self.meters]

    def usage_archive_dir(self) -> Path | None:
        """SQLite: the folder of the archived months' Parquet files (``usage_storage.archive_dir``,
        else ``usage-archive`` beside the database file); None on PostgreSQL or in memory."""
        if not _is_sqlite_url(self.database.url):
            return None
        if self.usage_storage.archive_dir is not None:
            return Path(self.usage_storage.archive_dir)
        database = _sqlite_file(self.database.url)
        return None if database is None else database.parent / "usage-archive"


def _is_sqlite_url(url: str) -> bool:
    return url.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite"


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL, or None for a database in memory."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database).resolve()


def _no_repeats(values: list[str], what: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique; repeated: {', '.join(repeated)}")


def _plan(data: dict[str, Any], index: int) -> Plan:
    body = dict(data)
    code = body.pop("code", None)
    if not isinstance(code, str):
        raise ValueError(f"{index}.code: required (a plan code such as 'pro')")
    try:
        return plan_from_mapping(body, code=code, version=1)
    except InvalidField as error:
        raise ValueError(f"{index}.{error.field}: {error.reason}") from None


def _coupon(data: dict[str, Any], index: int) -> Coupon:
    try:
        return coupon_from_data(data)
    except InvalidField as error:
        raise ValueError(f"{index}.{error.field}: {error.reason}") from None


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
        settings = _anchor_archive_dir(settings, path.resolve().parent)
    return settings


class _ExactLoader(yaml.SafeLoader):
    """YAML with decimals read exactly (``0.1`` is ``Decimal("0.1")``, never a float)."""


def _exact_float(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    text = str(loader.construct_scalar(node)).replace("_", "")  # type: ignore[arg-type]
    return Decimal(text)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


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
        loaded = yaml.load(text, Loader=_ExactLoader)  # noqa: S506 - a SafeLoader subclass
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
        message = validation.reason(problem)
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


def _anchor_archive_dir(settings: Settings, base: Path) -> Settings:
    """A relative ``usage_storage.archive_dir`` is relative to the folder of the config file."""
    storage = settings.usage_storage
    if storage.archive_dir is None or Path(storage.archive_dir).is_absolute():
        return settings
    folder = str((base / storage.archive_dir).resolve())
    return settings.model_copy(
        update={"usage_storage": storage.model_copy(update={"archive_dir": folder})}
    )
