"""Contains all the data models used in inputs/outputs"""

from .alert_list import AlertList
from .alert_out import AlertOut
from .amendment_in import AmendmentIn
from .api_key_in import ApiKeyIn
from .api_key_out import ApiKeyOut
from .attempt_out import AttemptOut
from .audit_entry_out import AuditEntryOut
from .audit_entry_out_after_type_0 import AuditEntryOutAfterType0
from .audit_entry_out_before_type_0 import AuditEntryOutBeforeType0
from .billing_error_out import BillingErrorOut
from .billing_run_in import BillingRunIn
from .billing_run_out import BillingRunOut
from .bucket import Bucket
from .bucket_group import BucketGroup
from .calendar_out import CalendarOut
from .candidate_plan_in import CandidatePlanIn
from .case_action_in import CaseActionIn
from .case_decision_in import CaseDecisionIn
from .case_kind import CaseKind
from .case_message_out import CaseMessageOut
from .case_message_out_payload import CaseMessageOutPayload
from .case_object import CaseObject
from .case_out import CaseOut
from .case_out_details_type_0 import CaseOutDetailsType0
from .case_page import CasePage
from .case_replay_in import CaseReplayIn
from .case_status import CaseStatus
from .case_view_out import CaseViewOut
from .case_view_out_details_type_0 import CaseViewOutDetailsType0
from .change import Change
from .charge_in import ChargeIn
from .charge_in_prices_type_0 import ChargeInPricesType0
from .charge_model import ChargeModel
from .charge_out import ChargeOut
from .charge_out_prices import ChargeOutPrices
from .check import Check
from .cloud_event_in import CloudEventIn
from .cloud_event_in_data import CloudEventInData
from .compatibility import Compatibility
from .correction_out import CorrectionOut
from .coupon_application import CouponApplication
from .coupon_in import CouponIn
from .coupon_out import CouponOut
from .coupon_start import CouponStart
from .coupon_use import CouponUse
from .credit_grant_in import CreditGrantIn
from .credit_grant_out import CreditGrantOut
from .credit_note_in import CreditNoteIn
from .credit_note_in_lines import CreditNoteInLines
from .customer_deferrals_out import CustomerDeferralsOut
from .customer_entitlements_out import CustomerEntitlementsOut
from .customer_in import CustomerIn
from .customer_out import CustomerOut
from .customer_page import CustomerPage
from .customer_put_out import CustomerPutOut
from .dead_letter_out import DeadLetterOut
from .dead_letter_page import DeadLetterPage
from .deferred_line_out import DeferredLineOut
from .deferred_revenue_out import DeferredRevenueOut
from .duration import Duration
from .enforcement import Enforcement
from .entitlement_check_in import EntitlementCheckIn
from .entitlement_check_out import EntitlementCheckOut
from .entitlement_out import EntitlementOut
from .entitlement_period_out import EntitlementPeriodOut
from .entitlement_plan_out import EntitlementPlanOut
from .entitlement_reason import EntitlementReason
from .error import Error
from .error_detail import ErrorDetail
from .error_problem import ErrorProblem
from .event_key import EventKey
from .external_refs import ExternalRefs
from .feature_in import FeatureIn
from .feature_kind import FeatureKind
from .feature_out import FeatureOut
from .finding_out import FindingOut
from .finding_out_ours import FindingOutOurs
from .finding_out_theirs import FindingOutTheirs
from .health import Health
from .ingest_report_out import IngestReportOut
from .interval import Interval
from .invoice_kind import InvoiceKind
from .invoice_list import InvoiceList
from .invoice_out import InvoiceOut
from .invoice_out_document import InvoiceOutDocument
from .invoice_page import InvoicePage
from .invoice_status import InvoiceStatus
from .issued_key_out import IssuedKeyOut
from .job_lease_out import JobLeaseOut
from .kpi_billing_run_out import KpiBillingRunOut
from .kpi_event_lag_out import KpiEventLagOut
from .kpi_job_out import KpiJobOut
from .kpi_lag_bucket_out import KpiLagBucketOut
from .kpi_unbilled_usage_out import KpiUnbilledUsageOut
from .kpi_unbilled_usage_out_amount_type_0 import KpiUnbilledUsageOutAmountType0
from .kpi_unbilled_usage_out_events_type_0 import KpiUnbilledUsageOutEventsType0
from .kpis_out import KpisOut
from .kpis_out_replays import KpisOutReplays
from .kpis_out_sync_completeness import KpisOutSyncCompleteness
from .line_event_out import LineEventOut
from .line_event_out_data import LineEventOutData
from .line_events_out import LineEventsOut
from .line_kind import LineKind
from .line_out import LineOut
from .lineage_out import LineageOut
from .lineage_out_group import LineageOutGroup
from .message_status import MessageStatus
from .month_amount import MonthAmount
from .period_out import PeriodOut
from .plan_in import PlanIn
from .plan_list import PlanList
from .plan_out import PlanOut
from .policy import Policy
from .readiness import Readiness
from .reconciliation_in import ReconciliationIn
from .reconciliation_out import ReconciliationOut
from .reconciliation_out_checked import ReconciliationOutChecked
from .reconciliation_out_counts import ReconciliationOutCounts
from .reconciliation_page import ReconciliationPage
from .rejected_out import RejectedOut
from .release_in import ReleaseIn
from .release_out import ReleaseOut
from .renewal_out import RenewalOut
from .renewals_out import RenewalsOut
from .replay_out import ReplayOut
from .rerate_customer_figures import RerateCustomerFigures
from .rerate_customer_out import RerateCustomerOut
from .rerate_error_out import RerateErrorOut
from .rerate_in import RerateIn
from .rerate_line_out import RerateLineOut
from .rerate_out import RerateOut
from .rerate_period_out import ReratePeriodOut
from .rerate_top_out import RerateTopOut
from .rerate_totals_out import RerateTotalsOut
from .restriction_out import RestrictionOut
from .schema_list_out import SchemaListOut
from .schema_type_out import SchemaTypeOut
from .schema_version_in import SchemaVersionIn
from .schema_version_in_schema_type_0 import SchemaVersionInSchemaType0
from .schema_version_out import SchemaVersionOut
from .schema_version_out_schema_type_0 import SchemaVersionOutSchemaType0
from .scope_in import ScopeIn
from .scope_out import ScopeOut
from .service_period import ServicePeriod
from .source_policy_out import SourcePolicyOut
from .standing_out import StandingOut
from .standing_page_out import StandingPageOut
from .subscription_in import SubscriptionIn
from .subscription_out import SubscriptionOut
from .tax_out import TaxOut
from .terms_out import TermsOut
from .threshold_in import ThresholdIn
from .threshold_kind import ThresholdKind
from .threshold_out import ThresholdOut
from .thresholds_in import ThresholdsIn
from .tier_in import TierIn
from .tier_out import TierOut
from .timing import Timing
from .totals_out import TotalsOut
from .unknown_types import UnknownTypes
from .unmapped_out import UnmappedOut
from .unmapped_tenant_out import UnmappedTenantOut
from .upcast_in import UpcastIn
from .upcast_in_defaults import UpcastInDefaults
from .upcast_in_rename import UpcastInRename
from .upcast_out import UpcastOut
from .upcast_out_defaults import UpcastOutDefaults
from .upcast_out_rename import UpcastOutRename
from .usage_correction_in import UsageCorrectionIn
from .usage_out import UsageOut
from .verdict import Verdict
from .version_summary_out import VersionSummaryOut
from .void_in import VoidIn
from .wallet_out import WalletOut
from .wallet_out_balances import WalletOutBalances
from .webhook_out import WebhookOut
from .window import Window
from .window_out import WindowOut

__all__ = (
    "AlertList",
    "AlertOut",
    "AmendmentIn",
    "ApiKeyIn",
    "ApiKeyOut",
    "AttemptOut",
    "AuditEntryOut",
    "AuditEntryOutAfterType0",
    "AuditEntryOutBeforeType0",
    "BillingErrorOut",
    "BillingRunIn",
    "BillingRunOut",
    "Bucket",
    "BucketGroup",
    "CalendarOut",
    "CandidatePlanIn",
    "CaseActionIn",
    "CaseDecisionIn",
    "CaseKind",
    "CaseMessageOut",
    "CaseMessageOutPayload",
    "CaseObject",
    "CaseOut",
    "CaseOutDetailsType0",
    "CasePage",
    "CaseReplayIn",
    "CaseStatus",
    "CaseViewOut",
    "CaseViewOutDetailsType0",
    "Change",
    "ChargeIn",
    "ChargeInPricesType0",
    "ChargeModel",
    "ChargeOut",
    "ChargeOutPrices",
    "Check",
    "CloudEventIn",
    "CloudEventInData",
    "Compatibility",
    "CorrectionOut",
    "CouponApplication",
    "CouponIn",
    "CouponOut",
    "CouponStart",
    "CouponUse",
    "CreditGrantIn",
    "CreditGrantOut",
    "CreditNoteIn",
    "CreditNoteInLines",
    "CustomerDeferralsOut",
    "CustomerEntitlementsOut",
    "CustomerIn",
    "CustomerOut",
    "CustomerPage",
    "CustomerPutOut",
    "DeadLetterOut",
    "DeadLetterPage",
    "DeferredLineOut",
    "DeferredRevenueOut",
    "Duration",
    "Enforcement",
    "EntitlementCheckIn",
    "EntitlementCheckOut",
    "EntitlementOut",
    "EntitlementPeriodOut",
    "EntitlementPlanOut",
    "EntitlementReason",
    "Error",
    "ErrorDetail",
    "ErrorProblem",
    "EventKey",
    "ExternalRefs",
    "FeatureIn",
    "FeatureKind",
    "FeatureOut",
    "FindingOut",
    "FindingOutOurs",
    "FindingOutTheirs",
    "Health",
    "IngestReportOut",
    "Interval",
    "InvoiceKind",
    "InvoiceList",
    "InvoiceOut",
    "InvoiceOutDocument",
    "InvoicePage",
    "InvoiceStatus",
    "IssuedKeyOut",
    "JobLeaseOut",
    "KpiBillingRunOut",
    "KpiEventLagOut",
    "KpiJobOut",
    "KpiLagBucketOut",
    "KpisOut",
    "KpisOutReplays",
    "KpisOutSyncCompleteness",
    "KpiUnbilledUsageOut",
    "KpiUnbilledUsageOutAmountType0",
    "KpiUnbilledUsageOutEventsType0",
    "LineageOut",
    "LineageOutGroup",
    "LineEventOut",
    "LineEventOutData",
    "LineEventsOut",
    "LineKind",
    "LineOut",
    "MessageStatus",
    "MonthAmount",
    "PeriodOut",
    "PlanIn",
    "PlanList",
    "PlanOut",
    "Policy",
    "Readiness",
    "ReconciliationIn",
    "ReconciliationOut",
    "ReconciliationOutChecked",
    "ReconciliationOutCounts",
    "ReconciliationPage",
    "RejectedOut",
    "ReleaseIn",
    "ReleaseOut",
    "RenewalOut",
    "RenewalsOut",
    "ReplayOut",
    "RerateCustomerFigures",
    "RerateCustomerOut",
    "RerateErrorOut",
    "RerateIn",
    "RerateLineOut",
    "RerateOut",
    "ReratePeriodOut",
    "RerateTopOut",
    "RerateTotalsOut",
    "RestrictionOut",
    "SchemaListOut",
    "SchemaTypeOut",
    "SchemaVersionIn",
    "SchemaVersionInSchemaType0",
    "SchemaVersionOut",
    "SchemaVersionOutSchemaType0",
    "ScopeIn",
    "ScopeOut",
    "ServicePeriod",
    "SourcePolicyOut",
    "StandingOut",
    "StandingPageOut",
    "SubscriptionIn",
    "SubscriptionOut",
    "TaxOut",
    "TermsOut",
    "ThresholdIn",
    "ThresholdKind",
    "ThresholdOut",
    "ThresholdsIn",
    "TierIn",
    "TierOut",
    "Timing",
    "TotalsOut",
    "UnknownTypes",
    "UnmappedOut",
    "UnmappedTenantOut",
    "UpcastIn",
    "UpcastInDefaults",
    "UpcastInRename",
    "UpcastOut",
    "UpcastOutDefaults",
    "UpcastOutRename",
    "UsageCorrectionIn",
    "UsageOut",
    "Verdict",
    "VersionSummaryOut",
    "VoidIn",
    "WalletOut",
    "WalletOutBalances",
    "WebhookOut",
    "Window",
    "WindowOut",
)
