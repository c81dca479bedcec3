"""The composition root: the one place that names concrete adapters.

Nothing connects at import time; :func:`build` makes the engine and services, and
:meth:`Container.close` releases them.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from revsync.adapters.canonical_json import jcs
from revsync.adapters.clock import RandomIds, SystemClock
from revsync.adapters.connectors.crm.destination import CRM_KINDS, CrmDestination
from revsync.adapters.connectors.crm.salesforce import Credentials, SalesforceCrm
from revsync.adapters.connectors.erp.destination import ERP_KINDS, POSTED_KINDS, ErpDestination
from revsync.adapters.connectors.erp.provision import Blueprint
from revsync.adapters.connectors.erp.rpc import TrytonRpc
from revsync.adapters.connectors.erp.tryton import TrytonErp
from revsync.adapters.connectors.support.destination import SUPPORT_KINDS, SupportDestination
from revsync.adapters.connectors.support.zendesk import ZendeskSupport
from revsync.adapters.connectors.urls import UnsafeUrl, check_destination
from revsync.adapters.connectors.webhook import (
    SignatureScheme,
    Signing,
    WebhookDestination,
    signing_key,
)
from revsync.adapters.db.engine import create_db_engine, is_sqlite
from revsync.adapters.db.migrate import current_revision, head_revision
from revsync.adapters.db.repositories import SqlUnitOfWork
from revsync.adapters.db.usage_ledger import SqlUsageLedger
from revsync.adapters.db.usage_parquet import ParquetMonths
from revsync.adapters.db.usage_reader import SqlUsageReader
from revsync.adapters.db.usage_snapshot import SqlUsageSnapshots
from revsync.adapters.db.usage_storage import SqlUsageStorage
from revsync.adapters.db.usage_storage_sqlite import SqliteUsageStorage
from revsync.adapters.failpoints import NONE, Failpoints
from revsync.adapters.outbox.relay import Relay, Route
from revsync.adapters.ratelimits import RateLimits
from revsync.adapters.schema_validator import compile_schema
from revsync.adapters.tax import TableTaxEngine
from revsync.application.announcements import Announcer
from revsync.application.apikeys import ApiKeys
from revsync.application.audit import Audit
from revsync.application.billing import Billing, BillingPolicy
from revsync.application.cases import Cases
from revsync.application.catalog import Catalog
from revsync.application.collections import Collections
from revsync.application.console import ConsoleSessions, ConsoleViews
from revsync.application.corrections import UsageCorrections
from revsync.application.credits import Credits
from revsync.application.crm import CrmMapping, CrmPull, CrmSignals, PullReport
from revsync.application.customers import Customers
from revsync.application.deadletters import DeadLetters
from revsync.application.deals import DealSales, DealSettings, QuoteToCash
from revsync.application.entitlements import Entitlements, QuotaGate
from revsync.application.erp import ErpReceipts, ErpStatusSync, SyncReport
from revsync.application.health import Health
from revsync.application.idempotency import Idempotency, IdempotencyPolicy
from revsync.application.ingestion import IngestContext, Ingestion, IngestPolicy, IngestReport
from revsync.application.jobs import Jobs
from revsync.application.kpis import Kpis
from revsync.application.operations import Operations
from revsync.application.quarantine import Quarantine
from revsync.application.reconciliation import Reconciliation
from revsync.application.renewals import Onboarding, Renewals
from revsync.application.reports import Reports
from revsync.application.rerates import Rerates, Untaxed
from revsync.application.retention import Retention
from revsync.application.schemas import Declaration, SchemaPolicy, SchemaRegistry
from revsync.application.service_credits import ServiceCredits
from revsync.application.subscriptions import Subscriptions
from revsync.application.support import SupportReport, SupportSync
from revsync.application.thresholds import ThresholdWatch
from revsync.application.usage import UsageQueries
from revsync.application.usage_storage import StoragePolicy, UsageStorageKeeping
from revsync.config import ConfigError, DestinationSettings, Settings
from revsync.domain.audit import AuditChain, AuditKey, AuditKeyMissing
from revsync.domain.errors import Conflict, InvalidField
from revsync.domain.reconciliation import Check, ReconciliationRun
from revsync.domain.schemas import upcast_from
from revsync.domain.support import CREDIT_ROLES
from revsync.entrypoints.workers.jobs import JobRunner
from revsync.observability.tracing import configure_tracing, instrument_engine
from revsync.ports.billing import TaxEngine
from revsync.ports.clock import Clock, IdSource
from revsync.ports.crm import Crm
from revsync.ports.erp import SaleLinks
from revsync.ports.repositories import UnitOfWork, UnitOfWorkFactory
from revsync.ports.usage import UsageStorage

if TYPE_CHECKING:
    from revsync.adapters.connectors.events_stream import NatsEventStream
    from revsync.adapters.connectors.usage_stream import NatsUsageSource
    from revsync.schemas.cloudevents_v1 import Item

FAILPOINTS_ENV = "REVSYNC_FAILPOINTS"
#: the outbox destination name of the ERP
ERP_DESTINATION = "erp"
#: the outbox destination name of the CRM
CRM_DESTINATION = "crm"
SUPPORT_DESTINATION = "support"
#: the outbox destination name of revsync's own event stream (NATS JetStream)
EVENTS_DESTINATION = "events"


class SchemaState(NamedTuple):
    """The database as readiness sees it."""

    reachable: bool
    current: str | None
    expected: str | None


@dataclass
class Container:
    """The wired application: settings, storage and the services entry points use."""

    settings: Settings
    engine: Engine
    clock: Clock
    ids: IdSource
    unit_of_work: UnitOfWorkFactory
    ledger: SqlUsageLedger
    ingestion: Ingestion
    customers: Customers
    api_keys: ApiKeys
    rate_limits: RateLimits
    usage: UsageQueries
    audit: Audit
    dead_letters: DeadLetters
    catalog: Catalog
    subscriptions: Subscriptions
    billing: Billing
    credits: Credits
    cases: Cases
    operations: Operations
    reports: Reports
    idempotency: Idempotency
    corrections: UsageCorrections
    jobs: Jobs
    schemas: SchemaRegistry
    quarantine: Quarantine
    reconciliation: Reconciliation
    kpis: Kpis
    retention: Retention
    console_sessions: ConsoleSessions
    entitlements: Entitlements
    service_credits: ServiceCredits
    console_views: ConsoleViews
    thresholds: ThresholdWatch
    #: the keeping of stored usage (PostgreSQL; SQLite with archiving on; else None)
    usage_storage: UsageStorageKeeping | None = None
    failpoints: Failpoints = field(default_factory=Failpoints)

    def close(self) -> None:
        """Flush pending writes and release connections."""
        self.entitlements.close()
        self.ledger.close()
        self.engine.dispose()

    def schema_state(self) -> SchemaState:
        """Whether the database answers, at which migration revision, and the one this
        revsync ships."""
        try:
            current = current_revision(self.engine)
        except SQLAlchemyError:
            return SchemaState(False, None, head_revision())
        return SchemaState(True, current, head_revision())

    def relay(self, owner: str | None = None) -> Relay:
        """A relay for the configured destinations (make it in the event loop that runs it:
        its connectors hold connections of that loop)."""
        worker = self.settings.worker
        return Relay(
            self.unit_of_work,
            destination_routes(self.settings, self.clock, DealSales(self.unit_of_work)),
            self.clock,
            self.ids,
            owner=owner or process_name(),
            lease=timedelta(seconds=worker.lease_seconds),
            poll=worker.poll_seconds,
            failpoints=self.failpoints,
            receipts=ErpReceipts(announcer_for(self.settings)),
        )

    def usage_source(self) -> NatsUsageSource | None:
        """The usage stream's reader (``usage_stream.nats_url``), or None when there is none."""
        from revsync.adapters.connectors.usage_stream import (  # the nats extra
            NatsUsageSource,
            StreamSource,
        )

        stream = self.settings.usage_stream
        if stream.nats_url is None:
            return None
        context = IngestContext("stream", f"stream:{stream.stream}/{stream.durable}")

        async def store(items: Sequence[Item]) -> IngestReport:
            return await asyncio.to_thread(self.ingestion.ingest, items, context)

        source = StreamSource(
            stream.nats_url,
            stream.stream,
            stream.subject,
            stream.durable,
            stream.batch,
            stream.max_wait_seconds,
            stream.ack_wait_seconds,
            stream.fetchers,
        )
        return NatsUsageSource(source, store, failpoints=self.failpoints)

    def job_runner(self, owner: str | None = None) -> JobRunner:
        """Runs the worker's jobs (ERP sync, CRM sync, scheduled billing) when this process
        takes their lease."""
        return JobRunner(
            self.unit_of_work,
            self.clock,
            owner or process_name(),
            lease=timedelta(seconds=self.settings.worker.job_lease_seconds),
        )

    def erp(self) -> TrytonErp:
        """A client of the configured ERP (make it in the event loop that uses it)."""
        return erp_client(self.settings)

    def erp_sync(self) -> ErpStatusSync:
        """The payment sync, moving the collections ladder after it."""
        return ErpStatusSync(
            self.unit_of_work,
            self.clock,
            self.ids,
            announcer_for(self.settings),
            self.collections(),
        )

    def rerates(self) -> Rerates:
        """Shadow re-rates: billing's own rating, on a billing of their own that computes no
        tax (amounts are compared before it) and reads the usage without a lock."""
        meters = self.settings.domain_meters()
        billing = Billing(
            self.unit_of_work,
            SqlUsageSnapshots(self.engine, locking=False),
            self.clock,
            self.ids,
            Untaxed(),
            meters,
            BillingPolicy(rounding=self.settings.billing.rounding),
            usage_reader(self.settings, self.engine),
        )
        return Rerates(self.unit_of_work, billing, meters)

    def renewals(self) -> Renewals:
        """Renewal intelligence: assessments at each horizon before a renewal."""
        return Renewals(
            self.unit_of_work,
            self.clock,
            self.health(),
            announcer_for(self.settings),
            self.settings.renewals.horizons_days,
        )

    def onboarding(self) -> Onboarding:
        """Onboarding milestones of new subscriptions, reached or missed."""
        return Onboarding(
            self.unit_of_work,
            self.clock,
            self.usage,
            announcer_for(self.settings),
            [m.milestone() for m in self.settings.renewals.milestones],
        )

    def collections(self) -> Collections:
        """The collections ladder on the ERP's dunning levels."""
        settings = self.settings.collections
        return Collections(
            self.unit_of_work,
            self.clock,
            announcer_for(self.settings),
            settings.ladder(),
            enabled=settings.enabled,
            forget=self.entitlements.forget,
        )

    async def sync_erp(self) -> SyncReport:
        """One payment sync with a client of its own."""
        client = self.erp()
        try:
            return await self.erp_sync().run(client)
        finally:
            await client.aclose()

    def reconciliation_checks(self) -> tuple[Check, ...]:
        """The checks a reconciliation runs when none are named: the ERP's and the CRM's when
        they are set."""
        checks = [Check.USAGE]
        if self.settings.erp.url is not None:
            checks.append(Check.ERP)
        if self.settings.crm.url is not None:
            checks.append(Check.CRM)
        return tuple(checks)

    async def reconcile(
        self,
        checks: Collection[Check] | None,
        since: date,
        actor: str,
        correlation_id: str | None = None,
    ) -> ReconciliationRun:
        """One reconciliation, with an ERP client of its own when it checks the ERP."""
        chosen = tuple(checks) if checks else self.reconciliation_checks()
        erp = self.erp() if Check.ERP in chosen and self.settings.erp.url else None
        crm = self.crm() if Check.CRM in chosen and self.settings.crm.url else None
        try:
            return await self.reconciliation.run(chosen, since, actor, erp, correlation_id, crm)
        finally:
            for client in (erp, crm):
                if client is not None:
                    await client.aclose()

    def crm(self) -> SalesforceCrm:
        """A client of the configured CRM (make it in the event loop that uses it)."""
        return crm_client(self.settings)

    async def pull_crm(self) -> PullReport:
        """One pull of accounts, contracts and won opportunities, with a client of its own."""
        client = self.crm()
        try:
            return await self.pull_crm_with(client)
        finally:
            await client.aclose()

    async def pull_crm_with(self, client: Crm) -> PullReport:
        """Accounts and contracts, then — with quote-to-cash on — the won opportunities."""
        report = await self.crm_pull().run(client)
        if self.settings.quote_to_cash.enabled:
            report.deals = await self.quote_to_cash().run(client)
        return report

    def quote_to_cash(self) -> QuoteToCash:
        """Won opportunities taken as subscriptions or add-ons, or refused."""
        settings = self.settings
        q2c = settings.quote_to_cash
        return QuoteToCash(
            self.unit_of_work,
            self.clock,
            self.ids,
            self.subscriptions,
            announcer_for(settings),
            DealSettings(
                products=q2c.product_maps(),
                opportunity_fields=q2c.opportunity_read_fields(),
                won_since=q2c.won_since,
                term_months=q2c.term_months,
                add_on_types=frozenset(q2c.add_on_types),
                include_children=settings.crm.include_children,
                overlap_seconds=settings.crm.overlap_seconds,
            ),
        )

    def crm_pull(self) -> CrmPull:
        """The incremental pull of accounts and contracts."""
        return CrmPull(
            self.unit_of_work,
            self.clock,
            self.customers,
            self.subscriptions,
            crm_mapping(self.settings),
        )

    def health(self) -> Health:
        """How customers are assessed, for the CRM's signals and the support tool's tickets
        (the support load counts where a support tool is connected)."""
        crm = self.settings.crm
        return Health(
            self.usage,
            crm.renewal_window_days,
            crm.expansion_periods,
            with_support=self.settings.support.url is not None,
        )

    def support(self) -> ZendeskSupport:
        """A client of the configured support tool (make it in the event loop that uses it)."""
        return support_client(self.settings)

    def support_sync(self) -> SupportSync:
        """The incremental read of organizations and tickets, and the contexts queued."""
        return SupportSync(
            self.unit_of_work,
            self.clock,
            self.customers,
            self.entitlements,
            self.health(),
            announcer_for(self.settings),
            self.service_credits,
            overlap_seconds=self.settings.support.overlap_seconds,
            match_external_id=self.settings.support.match_external_id,
        )

    async def sync_support(self) -> SupportReport:
        """One support sync with a client of its own."""
        client = self.support()
        try:
            return await self.support_sync().run(client)
        finally:
            await client.aclose()

    async def support_ticket(self, ticket_id: int, correlation_id: str | None) -> SupportReport:
        """Take one ticket the support tool's webhook named, with a client of its own."""
        client = self.support()
        try:
            return await self.support_sync().one(client, ticket_id, correlation_id)
        finally:
            await client.aclose()

    def crm_signals(self) -> CrmSignals:
        """The signals push (queued for the CRM through the outbox)."""
        return CrmSignals(
            self.unit_of_work,
            self.clock,
            self.health(),
            announcer_for(self.settings),
            crm_mapping(self.settings),
        )


def destination_routes(
    settings: Settings, clock: Clock, sales: SaleLinks | None = None
) -> list[Route]:
    """The configured destinations, each with its connector and policies (``sales``: the
    deals' sale orders, that the ERP links invoices to)."""
    outbox = settings.outbox
    allow = frozenset(outbox.allow_private_hosts)
    routes = []
    for index, d in enumerate(outbox.destinations):
        connector = WebhookDestination(
            d.url,
            clock=clock,
            lookup_url=d.lookup_url,
            signing=webhook_signing(f"outbox.destinations.{index}", d),
            timeout=d.timeout_seconds,
            connections=d.concurrency,
            allow_private=allow,
        )
        routes.append(
            Route(
                d.name,
                connector,
                d.retry.policy(),
                d.circuit.policy(),
                d.concurrency,
                d.rate_per_second,
            )
        )
    if settings.erp.url is not None:
        erp = settings.erp
        routes.append(
            Route(
                ERP_DESTINATION,
                ErpDestination(erp_client(settings), erp.rules(), sales),
                erp.retry.policy(),
                erp.circuit.policy(),
                concurrency=1,  # one line: ERP numbers must follow invoice dates
                batch=erp.batch_size,
            )
        )
    if settings.events.nats_url is not None:
        events = settings.events
        routes.append(
            Route(
                EVENTS_DESTINATION,
                event_stream(settings),
                events.retry.policy(),
                events.circuit.policy(),
                concurrency=events.concurrency,
            )
        )
    if settings.crm.url is not None:
        crm = settings.crm
        routes.append(
            Route(
                CRM_DESTINATION,
                CrmDestination(
                    crm_client(settings),
                    settings.collections.success_manager_field,
                    crm.signal_fields.get("renewal_assessment"),
                    {str(k): v for k, v in settings.quote_to_cash.opportunity_fields.items()},
                ),
                crm.retry.policy(),
                crm.circuit.policy(),
                concurrency=1,  # one client, one call at a time; writes are batched instead
            )
        )
    if settings.support.url is not None:
        support = settings.support
        routes.append(
            Route(
                SUPPORT_DESTINATION,
                SupportDestination(support_client(settings)),
                support.retry.policy(),
                support.circuit.policy(),
                concurrency=1,  # one client: the tool's rate limit is per account
            )
        )
    return routes


def event_stream(settings: Settings) -> NatsEventStream:
    """The event stream's publisher (``events.nats_url`` must be set)."""
    from revsync.adapters.connectors.events_stream import NatsEventStream  # the nats extra

    events = settings.events
    assert events.nats_url is not None
    return NatsEventStream(
        events.nats_url,
        stream=events.stream,
        subject_prefix=events.subject_prefix,
        source=events.source,
        duplicate_window_seconds=events.duplicate_window_seconds,
        max_age_days=events.max_age_days,
        timeout=events.timeout_seconds,
    )


def webhook_signing(key: str, d: DestinationSettings) -> Signing | None:
    """How a webhook destination signs (None: unsigned); its secrets from the environment."""
    variables = {"secret_env": d.secret_env, "previous_secret_env": d.previous_secret_env}
    keys = []
    for setting, variable in variables.items():
        if variable is not None:
            try:
                keys.append(signing_key(_secret(f"{key}.{setting}", variable)))
            except ValueError as error:  # never the secret itself
                raise ConfigError(f"{key}.{setting}: {variable} {error}") from None
    return Signing(tuple(keys), SignatureScheme(d.signature)) if keys else None


def crm_client(settings: Settings) -> SalesforceCrm:
    """The configured CRM (raises :class:`ConfigError` when it cannot be used)."""
    crm = settings.crm
    url = _checked_url(settings, "crm", crm.url)
    secret = _secret("crm.client_secret_env", crm.client_secret_env)
    password = _secret("crm.password_env", crm.password_env) if crm.auth == "password" else None
    return SalesforceCrm(
        url,
        Credentials(crm.auth, crm.client_id, secret, crm.username, password),
        crm.field_map(
            settings.collections.success_manager_field,
            opportunity=settings.quote_to_cash.opportunity_fields.values(),
        ),
        api_version=crm.api_version,
        ca_file=crm.ca_file,
        timeout_seconds=crm.timeout_seconds,
        budget_reserve_percent=crm.budget_reserve_percent,
        limit_pause_seconds=crm.limit_pause_seconds,
    )


def support_client(settings: Settings) -> ZendeskSupport:
    """The configured support tool (raises :class:`ConfigError` when it cannot be used)."""
    support = settings.support
    url = _checked_url(settings, "support", support.url)
    token = _secret("support.token_env", support.token_env)
    fields = {str(role): title for role, title in support.fields.items()}
    return ZendeskSupport(
        url,
        support.email,
        token,
        fields,
        owned=[role for role in fields if role not in CREDIT_ROLES],
        ca_file=support.ca_file,
        timeout_seconds=support.timeout_seconds,
    )


def crm_mapping(settings: Settings) -> CrmMapping:
    """How CRM records read as revsync's (from the configuration)."""
    crm = settings.crm
    return CrmMapping(
        account_fields={str(k): v for k, v in crm.account_fields.items()},
        contract_fields={str(k): v for k, v in crm.contract_fields.items()},
        signal_fields={str(k): v for k, v in crm.signal_fields.items()},
        account_read=crm.account_read_fields(),
        contract_read=crm.contract_read_fields(),
        plans=dict(crm.plans),
        currency=crm.currency,
        timezone=crm.timezone,
        overlap_seconds=crm.overlap_seconds,
        renewal_window_days=crm.renewal_window_days,
        expansion_periods=crm.expansion_periods,
        include_children=crm.include_children,
    )


def erp_client(settings: Settings) -> TrytonErp:
    """The configured ERP (raises :class:`ConfigError` when it cannot be used)."""
    erp = settings.erp
    url = _checked_url(settings, "erp", erp.url)
    password = _secret("erp.password_env", erp.password_env)
    rpc = TrytonRpc(url, erp.database, erp.login, password, timeout=erp.timeout_seconds)
    return TrytonErp(
        rpc,
        receivable_account=erp.receivable_account,
        payment_term_days=erp.payment_term_days,
        period_policy=erp.period_policy,
    )


def _checked_url(settings: Settings, section: str, url: str | None) -> str:
    """A configured system's URL, once the SSRF guard has passed it."""
    if url is None:
        raise ConfigError(f"{section}.url: no {section.upper()} is configured")
    try:
        check_destination(url, frozenset(settings.outbox.allow_private_hosts))
    except UnsafeUrl as error:
        raise ConfigError(f"{section}.url: {error}") from None
    return url


def audit_chain(settings: Settings) -> AuditChain:
    """How the audit chain is written and checked: RFC 8785 records, keyed by the variable
    ``audit.key_env`` names when it is set (its value as UTF-8 bytes)."""
    variable = settings.audit.key_env
    value = os.environ.get(variable)
    key = None
    if value:
        try:
            key = AuditKey(value.encode())
        except ValueError as error:  # never the key itself
            raise ConfigError(f"audit.key_env: {variable} {error}") from None
    return AuditChain(jcs, key, variable)


def _secret(key: str, variable: str) -> str:
    """The secret in the environment variable a configuration key names."""
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"{key}: {variable} is not set")
    return value


def erp_blueprint(settings: Settings, today: date) -> Blueprint:
    """What ``revsync erp provision`` sets up, from the configuration."""
    erp = settings.erp
    currencies = sorted({erp.currency, *(p.currency for p in settings.domain_plans())})
    products: dict[str, str] = {}
    for rule in erp.posting_rules:
        products.setdefault(rule.product, rule.account)
    taxes = [
        (country, code, rate)
        for country, codes in sorted(settings.tax.rates.items())
        for code, rate in sorted(codes.items())
    ]
    return Blueprint(
        company=erp.company,
        currency=erp.currency,
        currencies=currencies,
        years=erp.fiscal_years or [today.year, today.year + 1],
        receivable_account=erp.receivable_account,
        payable_account=erp.payable_account,
        tax_account=erp.tax_account,
        deferred_revenue_account=erp.deferred_revenue_account,
        cash_account=erp.cash_account,
        payment_term_days=erp.payment_term_days,
        dunning_days=erp.dunning_days,
        taxes=taxes,
        products=sorted(products.items()),
    )


def destination_names(settings: Settings) -> list[str]:
    """Every configured destination, the ERP included."""
    names = [d.name for d in settings.outbox.destinations]
    if settings.erp.url is not None:
        names.append(ERP_DESTINATION)
    if settings.crm.url is not None:
        names.append(CRM_DESTINATION)
    if settings.events.nats_url is not None:
        names.append(EVENTS_DESTINATION)
    return names


def announcer_for(settings: Settings) -> Announcer:
    """Who hears of what: event kind → the destinations subscribed to it."""
    routes: dict[str, list[str]] = {}
    for destination in settings.outbox.destinations:
        for kind in destination.events:
            routes.setdefault(kind, []).append(destination.name)
    orders = {d.name: d.order for d in settings.outbox.destinations}
    if settings.erp.url is not None:
        for kind in ERP_KINDS:
            routes.setdefault(kind, []).append(ERP_DESTINATION)
        orders[ERP_DESTINATION] = "all"
    if settings.crm.url is not None:
        for kind in CRM_KINDS:
            routes.setdefault(kind, []).append(CRM_DESTINATION)
    if settings.support.url is not None:
        for kind in SUPPORT_KINDS:
            routes.setdefault(kind, []).append(SUPPORT_DESTINATION)
    if settings.events.nats_url is not None:
        for kind in settings.events.events:
            routes.setdefault(kind, []).append(EVENTS_DESTINATION)
    return Announcer(routes, orders)


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    ids: IdSource | None = None,
    failpoints: Failpoints | None = None,
    tax: TaxEngine | None = None,
) -> Container:
    """Wire revsync for ``settings``; ``clock``, ``ids``, ``failpoints`` and ``tax`` are for
    tests."""
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    failpoints = failpoints or Failpoints(os.environ.get(FAILPOINTS_ENV, ""))
    chain = audit_chain(settings)
    tracing = settings.tracing
    configure_tracing(
        tracing.otlp_endpoint, service=tracing.service_name, sample_ratio=tracing.sample_ratio
    )
    engine = create_db_engine(settings.database.url)
    instrument_engine(engine)

    announcer = announcer_for(settings)
    # cases announce their opening and closing only when someone listens (no extra reads else)
    case_news = announcer if announcer.wants("case.opened", "case.resolved") else None

    def unit_of_work(*, write: bool = True) -> UnitOfWork:
        return SqlUnitOfWork(
            engine, clock.now(), write=write, audit_chain=chain, case_news=case_news
        )

    meters = settings.domain_meters()
    reader = usage_reader(settings, engine)
    ledger = SqlUsageLedger(
        engine,
        max_group=settings.ingestion.group_commit_max,
        failpoints=failpoints,
        case_news=case_news,
    )
    storage = usage_storage(settings, engine, clock, failpoints)
    # with archiving on: the months archived are closed to events and amendments
    closed_after = settings.usage_storage.archive_after_months if storage is not None else None
    policy = IngestPolicy(
        max_future=timedelta(hours=settings.ingestion.max_future_hours),
        archive_after_months=closed_after,
    )
    registry = schema_registry(settings, unit_of_work, clock)
    usage = UsageQueries(reader, meters)
    entitlements = Entitlements(
        unit_of_work,
        usage,
        clock,
        timedelta(seconds=settings.entitlements.cache_seconds),
        SqlUsageSnapshots(engine),
        timedelta(seconds=settings.entitlements.warm_seconds),
    )
    enforced = set(settings.entitlements.refuse_over_quota)
    gate = QuotaGate(entitlements, [m for m in meters if m.key in enforced]) if enforced else None
    ingestion = Ingestion(
        ledger,
        clock,
        meters,
        policy,
        screen=registry.screen,
        gate=gate,
        on_stored=entitlements.forget_tenants,
    )
    billing = Billing(
        unit_of_work,
        SqlUsageSnapshots(engine),
        clock,
        ids,
        tax or TableTaxEngine(settings.tax.rates),
        meters,
        BillingPolicy(
            rounding=settings.billing.rounding,
            grace=timedelta(hours=settings.billing.grace_period_hours),
            late_usage=settings.billing.late_usage,
            invoice_prefix=settings.billing.invoice_prefix,
            credit_note_prefix=settings.billing.credit_note_prefix,
            consolidate=settings.billing.consolidate,
        ),
        reader,
        announcer_for(settings),
    )
    keys = ApiKeys(
        unit_of_work, clock, ids, cache_for=timedelta(seconds=settings.auth.cache_seconds)
    )
    # the API forgets idempotency keys after this; the retention job prunes them after it too
    keys_kept = timedelta(hours=settings.server.idempotency_hours)
    service_credits = ServiceCredits(
        unit_of_work,
        clock,
        ids,
        billing,
        announcer_for(settings),
        tag=settings.support.credit_tag,
        limit=settings.support.credit_limit,
    )
    return Container(
        settings=settings,
        engine=engine,
        clock=clock,
        ids=ids,
        unit_of_work=unit_of_work,
        ledger=ledger,
        ingestion=ingestion,
        corrections=UsageCorrections(unit_of_work, clock, ids, ingestion),
        customers=Customers(unit_of_work, clock),
        api_keys=keys,
        rate_limits=RateLimits(
            settings.server.rate_limits.storage,
            settings.server.rate_limits.per_key,
            settings.server.rate_limits.per_tenant,
            settings.server.rate_limits.keys,
        ),
        usage=usage,
        entitlements=entitlements,
        audit=Audit(unit_of_work, clock, chain),
        dead_letters=DeadLetters(unit_of_work),
        catalog=Catalog(
            unit_of_work,
            clock,
            meters,
            settings.erp.rules() if settings.erp.url is not None else None,
        ),
        credits=Credits(unit_of_work, clock, ids, [m.key for m in meters]),
        subscriptions=Subscriptions(
            unit_of_work, clock, announcer_for(settings), [m.key for m in meters], closed_after
        ),
        billing=billing,
        cases=Cases(unit_of_work, clock, service_credits),
        service_credits=service_credits,
        operations=Operations(unit_of_work, clock, destination_names(settings)),
        reports=Reports(unit_of_work),
        idempotency=Idempotency(
            unit_of_work,
            clock,
            IdempotencyPolicy(keep=keys_kept),
        ),
        jobs=Jobs(unit_of_work),
        schemas=registry,
        quarantine=Quarantine(unit_of_work, clock, ingestion, registry),
        reconciliation=Reconciliation(
            unit_of_work,
            clock,
            ids,
            billing,
            ERP_DESTINATION,
            CRM_DESTINATION,
            crm_mapping(settings) if settings.crm.url is not None else None,
        ),
        kpis=Kpis(
            unit_of_work,
            clock,
            settings.kpis.policy(settings.crm.renewal_window_days),
            billing.unbilled,
            {meter.event_type for meter in meters},
            destination_names(settings),
            ERP_DESTINATION if settings.erp.url is not None else None,
            CRM_DESTINATION if settings.crm.url is not None else None,
            POSTED_KINDS,
        ),
        retention=Retention(
            unit_of_work,
            clock,
            settings.retention.policy(keys_kept, settings.reconciliation.days),
        ),
        console_views=ConsoleViews(unit_of_work),
        thresholds=ThresholdWatch(
            unit_of_work,
            SqlUsageSnapshots(engine),
            billing,
            announcer_for(settings),
            clock,
            failpoints.hit,
        ),
        console_sessions=ConsoleSessions(
            unit_of_work,
            clock,
            ids,
            keys,
            timedelta(hours=settings.auth.console_session_hours),
        ),
        usage_storage=storage,
        failpoints=failpoints,
    )


def usage_storage(
    settings: Settings, engine: Engine, clock: Clock, failpoints: Failpoints | None = None
) -> UsageStorageKeeping | None:
    """The keeping of stored usage (``usage_storage``): on PostgreSQL the months' tables, made
    ahead and archived; on SQLite, with archiving on, old months archived to Parquet files
    (None while it is off: one table, nothing to keep)."""
    section = settings.usage_storage
    storage: UsageStorage
    if is_sqlite(engine):
        folder = settings.usage_archive_dir()
        if section.archive_after_months is None or folder is None:
            return None
        storage = SqliteUsageStorage(engine, ParquetMonths(folder), failpoints=failpoints or NONE)
        # no months' tables to make ahead
        policy = StoragePolicy(None, section.archive_after_months)
        return UsageStorageKeeping(storage, clock, policy)
    storage = SqlUsageStorage(engine, lock_timeout_ms=int(section.lock_timeout_seconds * 1000))
    policy = StoragePolicy(section.months_ahead, section.archive_after_months)
    return UsageStorageKeeping(storage, clock, policy)


def usage_reader(settings: Settings, engine: Engine) -> SqlUsageReader:
    """The usage reader; on SQLite it reads the months archived to Parquet files for lineage
    (whether archiving is on or no longer)."""
    folder = settings.usage_archive_dir() if is_sqlite(engine) else None
    return SqlUsageReader(engine, None if folder is None else ParquetMonths(folder))


def process_name() -> str:
    """This process, as leases name it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def apply_configuration(container: Container, actor: str) -> None:
    """Make the declared configuration take effect: start the audit chain with the key (or
    refuse without one when the chain is keyed), record the settings in the audit log when
    they changed, and bring the catalog (plans, coupons) in line with them."""
    settings = container.settings
    try:
        container.audit.start(actor)
    except AuditKeyMissing as error:
        raise ConfigError(f"audit.key_env: {error}") from None
    container.audit.record_configuration(settings.audit_snapshot(), actor)
    container.catalog.sync(settings.domain_plans(), settings.domain_coupons(), actor)
    try:
        container.schemas.sync(schema_declarations(settings), actor)
    except (InvalidField, Conflict) as error:
        raise ConfigError(f"schemas.types: {error}") from None


def schema_registry(
    settings: Settings, unit_of_work: UnitOfWorkFactory, clock: Clock
) -> SchemaRegistry:
    """The schema registry, its validator jsonschema-rs, its policy from ``schemas``."""
    policy, metered = schema_policy(settings)
    return SchemaRegistry(unit_of_work, clock, compile_schema, metered, policy)


def schema_policy(settings: Settings) -> tuple[SchemaPolicy, frozenset[str]]:
    """The schema policy of ``schemas`` and the event types meters read."""
    section = settings.schemas
    policy = SchemaPolicy(
        unknown_types=section.unknown_types,
        sources=tuple(s.rule() for s in section.sources),
        refresh=timedelta(seconds=section.refresh_seconds),
    )
    return policy, frozenset(m.event_type for m in settings.domain_meters())


def schema_declarations(settings: Settings) -> list[Declaration]:
    """The versions the configuration declares, in the order they are registered."""
    return [
        Declaration(
            name,
            entry.version,
            entry.schema_,
            upcast_from(entry.upcast),
            declared.compatibility,
        )
        for name, declared in settings.schemas.types.items()
        for entry in declared.versions
    ]
