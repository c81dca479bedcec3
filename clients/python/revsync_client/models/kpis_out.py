from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.kpi_billing_run_out import KpiBillingRunOut
    from ..models.kpi_event_lag_out import KpiEventLagOut
    from ..models.kpi_job_out import KpiJobOut
    from ..models.kpi_unbilled_usage_out import KpiUnbilledUsageOut
    from ..models.kpis_out_replays import KpisOutReplays
    from ..models.kpis_out_sync_completeness import KpisOutSyncCompleteness


T = TypeVar("T", bound="KpisOut")


@_attrs_define
class KpisOut:
    """Every KPI now (docs/operations.md); null where it does not apply.

    Attributes:
        at (str):
        billing_run (KpiBillingRunOut | None):
        erp_posting_delay_seconds (float | None): Age of the oldest invoice or credit note not yet in the ERP; null: no
            ERP.
        event_lag (KpiEventLagOut): Event time to receipt over the stored events counted so far.
        invoice_accuracy_ratio (float | None): From the latest ERP reconciliation; null: none ran.
        jobs (list[KpiJobOut]):
        renewals_missing_adoption (int | None): Null: no CRM.
        replays (KpisOutReplays):
        sync_completeness (KpisOutSyncCompleteness): Per connector, the share of the messages of the KPI window it has.
        unbilled_usage (KpiUnbilledUsageOut): Usage on no finalized invoice, as the KPI job last measured it (null:
            never).
        unmapped_tenants (int):
    """

    at: str
    billing_run: KpiBillingRunOut | None
    erp_posting_delay_seconds: float | None
    event_lag: KpiEventLagOut
    invoice_accuracy_ratio: float | None
    jobs: list[KpiJobOut]
    renewals_missing_adoption: int | None
    replays: KpisOutReplays
    sync_completeness: KpisOutSyncCompleteness
    unbilled_usage: KpiUnbilledUsageOut
    unmapped_tenants: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.kpi_billing_run_out import KpiBillingRunOut  # noqa: PLC0415

        at = self.at

        billing_run: dict[str, Any] | None
        if isinstance(self.billing_run, KpiBillingRunOut):
            billing_run = self.billing_run.to_dict()
        else:
            billing_run = self.billing_run

        erp_posting_delay_seconds: float | None
        erp_posting_delay_seconds = self.erp_posting_delay_seconds

        event_lag = self.event_lag.to_dict()

        invoice_accuracy_ratio: float | None
        invoice_accuracy_ratio = self.invoice_accuracy_ratio

        jobs = []
        for jobs_item_data in self.jobs:
            jobs_item = jobs_item_data.to_dict()
            jobs.append(jobs_item)

        renewals_missing_adoption: int | None
        renewals_missing_adoption = self.renewals_missing_adoption

        replays = self.replays.to_dict()

        sync_completeness = self.sync_completeness.to_dict()

        unbilled_usage = self.unbilled_usage.to_dict()

        unmapped_tenants = self.unmapped_tenants

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "at": at,
                "billing_run": billing_run,
                "erp_posting_delay_seconds": erp_posting_delay_seconds,
                "event_lag": event_lag,
                "invoice_accuracy_ratio": invoice_accuracy_ratio,
                "jobs": jobs,
                "renewals_missing_adoption": renewals_missing_adoption,
                "replays": replays,
                "sync_completeness": sync_completeness,
                "unbilled_usage": unbilled_usage,
                "unmapped_tenants": unmapped_tenants,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.kpi_billing_run_out import KpiBillingRunOut  # noqa: PLC0415
        from ..models.kpi_event_lag_out import KpiEventLagOut  # noqa: PLC0415
        from ..models.kpi_job_out import KpiJobOut  # noqa: PLC0415
        from ..models.kpi_unbilled_usage_out import KpiUnbilledUsageOut  # noqa: PLC0415
        from ..models.kpis_out_replays import KpisOutReplays  # noqa: PLC0415
        from ..models.kpis_out_sync_completeness import KpisOutSyncCompleteness  # noqa: PLC0415

        d = dict(src_dict)
        at = d.pop("at")

        def _parse_billing_run(data: object) -> KpiBillingRunOut | None:
            if data is None:
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                billing_run_type_0 = KpiBillingRunOut.from_dict(data)

                return billing_run_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(KpiBillingRunOut | None, data)

        billing_run = _parse_billing_run(d.pop("billing_run"))

        def _parse_erp_posting_delay_seconds(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        erp_posting_delay_seconds = _parse_erp_posting_delay_seconds(
            d.pop("erp_posting_delay_seconds")
        )

        event_lag = KpiEventLagOut.from_dict(d.pop("event_lag"))

        def _parse_invoice_accuracy_ratio(data: object) -> float | None:
            if data is None:
                return data
            return cast(float | None, data)

        invoice_accuracy_ratio = _parse_invoice_accuracy_ratio(d.pop("invoice_accuracy_ratio"))

        jobs = []
        _jobs = d.pop("jobs")
        for jobs_item_data in _jobs:
            jobs_item = KpiJobOut.from_dict(jobs_item_data)

            jobs.append(jobs_item)

        def _parse_renewals_missing_adoption(data: object) -> int | None:
            if data is None:
                return data
            return cast(int | None, data)

        renewals_missing_adoption = _parse_renewals_missing_adoption(
            d.pop("renewals_missing_adoption")
        )

        replays = KpisOutReplays.from_dict(d.pop("replays"))

        sync_completeness = KpisOutSyncCompleteness.from_dict(d.pop("sync_completeness"))

        unbilled_usage = KpiUnbilledUsageOut.from_dict(d.pop("unbilled_usage"))

        unmapped_tenants = d.pop("unmapped_tenants")

        kpis_out = cls(
            at=at,
            billing_run=billing_run,
            erp_posting_delay_seconds=erp_posting_delay_seconds,
            event_lag=event_lag,
            invoice_accuracy_ratio=invoice_accuracy_ratio,
            jobs=jobs,
            renewals_missing_adoption=renewals_missing_adoption,
            replays=replays,
            sync_completeness=sync_completeness,
            unbilled_usage=unbilled_usage,
            unmapped_tenants=unmapped_tenants,
        )

        kpis_out.additional_properties = d
        return kpis_out

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
