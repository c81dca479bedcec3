"""Configuration: one YAML file, environment overrides, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from revsync.config import EXAMPLE_CONFIG, ConfigError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "revsync.yaml"
    path.write_text(text)
    return path


def test_the_example_config_is_valid_and_declares_meters() -> None:
    settings = load_settings(EXAMPLE_CONFIG)
    assert [m.key for m in settings.domain_meters()] == [
        "api_calls",
        "llm_tokens",
        "storage_gb",
        "active_users",
        "seats_in_use",
    ]
    assert settings.ingestion.max_batch_events == 10_000


def test_a_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, "database:\n  url: sqlite:///data/revsync.db\n")
    assert load_settings(path).database.url == f"sqlite:///{tmp_path / 'data' / 'revsync.db'}"


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "server:\n  port: 9000\ningestion:\n  max_batch_events: 500\n")
    monkeypatch.setenv("REVSYNC_SERVER__PORT", "9100")
    settings = load_settings(path)
    assert settings.server.port == 9100
    assert settings.ingestion.max_batch_events == 500


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  port: seventy\n", "server.port: expected an integer (got 'seventy')"),
        ("server:\n  prot: 80\n", "server.prot: unknown field (got 80)"),
        (
            "ingestion:\n  max_batch_events: 0\n",
            "ingestion.max_batch_events: must be at least 1 (got 0)",
        ),
        (
            "meters:\n  - {key: calls, event_type: api.request, aggregation: avg}\n",
            "meters.0.aggregation: must be one of ",
        ),
        (
            "meters:\n  - {key: tokens, event_type: llm, aggregation: sum}\n",
            "meters.0: value: required for aggregation 'sum'",
        ),
        (
            "meters:\n  - {key: a, event_type: x, aggregation: count}\n  - {key: a, event_type: y, aggregation: count}\n",
            "meters: meter keys must be unique; repeated: a",
        ),
        ("server: [1, 2\n", "not valid YAML (line 2, column 1)"),
        ("- just\n- a list\n", "the top level must be a mapping"),
    ],
    ids=[
        "type",
        "unknown key",
        "range",
        "enum",
        "meter rule",
        "duplicate meter",
        "yaml syntax",
        "not a mapping",
    ],
)
def test_a_bad_file_names_the_key_and_the_reason(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert message.startswith(str(path))
    assert expected in message, message


def test_a_billing_schedule_must_be_a_cron_expression(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "billing:\n  schedule: every night\n"))
    assert (
        "billing.schedule: 'every night' is not a cron expression of five fields (minute hour "
        "day month weekday), e.g. '15 0 * * *'"
    ) in str(caught.value)
    nightly = load_settings(write(tmp_path, "billing:\n  schedule: '15 0 * * *'\n"))
    assert nightly.billing.schedule == "15 0 * * *"


def test_the_kpi_job_runs_every_five_minutes_unless_told_otherwise(tmp_path: Path) -> None:
    default = load_settings(write(tmp_path, "database:\n  url: sqlite:///x.db\n"))
    assert default.kpis.schedule == "*/5 * * * *"
    assert default.kpis.policy(90).horizon.days == 400
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "kpis:\n  schedule: often\n"))
    assert "kpis.schedule: 'often' is not a cron expression" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "kpis:\n  window_hours: 0\n"))
    assert "kpis.window_hours" in str(caught.value)
    assert load_settings(write(tmp_path, "kpis:\n  schedule: null\n")).kpis.schedule is None


def test_the_tracing_endpoint_is_a_url_and_the_ratio_a_share(tmp_path: Path) -> None:
    assert (
        load_settings(write(tmp_path, "database:\n  url: sqlite:///x.db\n")).tracing.otlp_endpoint
        is None
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "tracing:\n  otlp_endpoint: collector:4318\n"))
    assert "tracing.otlp_endpoint" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "tracing:\n  sample_ratio: 2\n"))
    assert "tracing.sample_ratio" in str(caught.value)
    chosen = "tracing:\n  otlp_endpoint: http://collector:4318/v1/traces\n  sample_ratio: 0.1\n"
    assert load_settings(write(tmp_path, chosen)).tracing.sample_ratio == 0.1


def test_a_reconciliation_schedule_must_be_a_cron_expression(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "reconciliation:\n  schedule: nightly\n"))
    assert "reconciliation.schedule: 'nightly' is not a cron expression" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "reconciliation:\n  days: 0\n"))
    assert "reconciliation.days" in str(caught.value)
    nightly = load_settings(write(tmp_path, "reconciliation:\n  schedule: '30 2 * * *'\n"))
    assert (nightly.reconciliation.schedule, nightly.reconciliation.days) == ("30 2 * * *", 90)


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found .*revsync init"):
        load_settings(tmp_path / "absent.yaml")


ERP_CONFIG = """
plans:
  - code: pro
    name: Pro
    currency: EUR
    interval: month
    charges:
      - {key: platform, model: flat, description: Fee, timing: in_advance, amount: "9.00"}
erp:
  url: https://erp.example.com/
  posting_rules:
    - {product: USAGE, account: "4.1.2", kind: usage}
"""


def test_a_plan_line_without_a_posting_rule_is_refused_before_any_billing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, ERP_CONFIG))
    assert (
        "erp.posting_rules: plan 'pro': no rule for a recurring line of pro:platform in EUR"
        in str(error.value)
    )
    fixed = ERP_CONFIG + '    - {product: SAAS, account: "4.1.2"}\n'
    assert load_settings(write(tmp_path, fixed)).erp.rules()[1].product == "SAAS"


def test_a_destination_may_not_take_the_erps_name(tmp_path: Path) -> None:
    text = (
        ERP_CONFIG
        + """    - {product: SAAS, account: "4.1.2"}
outbox:
  destinations:
    - {name: erp, url: "https://hooks.example.com/x", events: [invoice.finalized]}
"""
    )
    with pytest.raises(ConfigError, match="the name 'erp' is the ERP's"):
        load_settings(write(tmp_path, text))


def test_the_crm_config_refuses_writing_a_field_the_crm_owns(tmp_path: Path) -> None:
    text = """crm:
  url: https://acme.my.salesforce.com
  signal_fields: {health_score: BillingCountry}
"""
    with pytest.raises(
        ConfigError,
        match=r"crm\.signal_fields\.health_score: Account\.BillingCountry is read from the CRM",
    ):
        load_settings(write(tmp_path, text))


def test_the_crm_password_flow_needs_a_user_and_a_destination_may_not_take_its_name(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"crm\.username: required with auth: password"):
        load_settings(write(tmp_path, "crm: {url: 'https://a.example.com', auth: password}\n"))
    text = """crm: {url: "https://acme.my.salesforce.com"}
outbox:
  destinations:
    - {name: crm, url: "https://hooks.example.com/x", events: [signals.updated]}
"""
    with pytest.raises(ConfigError, match="the name 'crm' is the CRM's"):
        load_settings(write(tmp_path, text))


def test_quote_to_cash_maps_products_to_recurring_charges_and_needs_the_crm(
    tmp_path: Path,
) -> None:
    plan = """plans:
  - code: basic
    name: Basic
    currency: EUR
    interval: month
    charges:
      - {key: fee, model: flat, description: Fee, amount: "10.00"}
      - {key: calls, model: per_unit, description: Calls, meter: api_calls, amount: "0.01"}
meters:
  - {key: api_calls, event_type: api.call, aggregation: count}
"""
    crm = 'crm: {url: "https://acme.my.salesforce.com"}\n'
    ok = load_settings(
        write(
            tmp_path,
            plan + crm + "quote_to_cash: {products: {BASIC: {plan: basic, charge: fee}}}\n",
        )
    )
    assert ok.quote_to_cash.enabled and ok.quote_to_cash.won_since is None
    with pytest.raises(
        ConfigError,
        match=r"quote_to_cash\.products\.CALLS: plan 'basic' has no recurring charge 'calls'",
    ):
        load_settings(
            write(
                tmp_path,
                plan + crm + "quote_to_cash: {products: {CALLS: {plan: basic, charge: calls}}}\n",
            )
        )
    with pytest.raises(ConfigError, match=r"quote_to_cash\.products: quote-to-cash reads the CRM"):
        load_settings(
            write(
                tmp_path, plan + "quote_to_cash: {products: {BASIC: {plan: basic, charge: fee}}}\n"
            )
        )
    with pytest.raises(ConfigError, match=r"opportunity_fields"):
        load_settings(
            write(
                tmp_path,
                crm + "quote_to_cash: {opportunity_fields: {subscription_id: 'not a name'}}\n",
            )
        )


def test_the_support_config_refuses_a_field_for_two_roles_a_bad_secret_name_and_its_name(
    tmp_path: Path,
) -> None:
    text = """support:
  url: https://acme.zendesk.com
  fields: {plan: Plan, dunning_level: Plan}
"""
    with pytest.raises(ConfigError, match=r"support\.fields.*Plan repeated"):
        load_settings(write(tmp_path, text))
    text = "support: {url: 'https://acme.zendesk.com', webhook_secret_env: 'lower case'}\n"
    with pytest.raises(ConfigError, match=r"support\.webhook_secret_env"):
        load_settings(write(tmp_path, text))
    text = """support: {url: "https://acme.zendesk.com"}
outbox:
  destinations:
    - {name: support, url: "https://hooks.example.com/x", events: [invoice.finalized]}
"""
    with pytest.raises(ConfigError, match="the name 'support' is the support tool's"):
        load_settings(write(tmp_path, text))
    settings = load_settings(write(tmp_path, "support: {url: 'https://acme.zendesk.com'}\n"))
    assert settings.support.fields["health_score"] == "revsync health score"


def test_retention_keeps_messages_as_long_as_reconciliation_and_kpis_read_them(
    tmp_path: Path,
) -> None:
    default = load_settings(write(tmp_path, "database:\n  url: sqlite:///x.db\n")).retention
    assert (default.schedule, default.outbox_days, default.dead_letter_days) == (
        "40 3 * * *",
        400,
        180,
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "retention:\n  schedule: daily\n"))
    assert "retention.schedule: 'daily' is not a cron expression" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "retention:\n  outbox_days: 60\n"))
    assert "retention.outbox_days: at least reconciliation.days (90)" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(
            write(
                tmp_path,
                "retention:\n  outbox_days: 30\nreconciliation:\n  days: 7\n"
                "kpis:\n  window_hours: 2160\n",
            )
        )
    assert "retention.outbox_days: at least kpis.window_hours (2160)" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "retention:\n  batch_size: 0\n"))
    assert "retention.batch_size" in str(caught.value)
    short = "retention:\n  outbox_days: 30\n  dead_letter_days: null\nreconciliation:\n  days: 30\n"
    chosen = load_settings(write(tmp_path, short)).retention
    assert (chosen.outbox_days, chosen.dead_letter_days) == (30, None)
    forever = load_settings(write(tmp_path, "retention:\n  outbox_days: null\n")).retention
    assert forever.outbox_days is None  # kept for ever: nothing to check against
