"""The Grafana dashboard and the Prometheus alerts in deploy/observability query only metrics
revsync exposes, and are well formed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from revsync.domain.kpis import AGE_BUCKETS
from revsync.observability.metrics import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "deploy" / "observability" / "grafana" / "revsync.json"
ALERTS = ROOT / "deploy" / "observability" / "prometheus" / "alerts.yml"

AGES = {label for label, _ in AGE_BUCKETS}
_NAME = re.compile(r"revsync_[a-z0-9_]+")
_AGE_MATCHER = re.compile(r'\bage\s*(=~|!~|!=|=)\s*"([^"]*)"')


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, with those nested in (collapsed) rows."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def expressions() -> list[tuple[Path, str]]:
    dashboard = json.loads(DASHBOARD.read_text())
    found = [
        (DASHBOARD, target["expr"])
        for panel in panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    return found + [(ALERTS, rule["expr"]) for rule in rules()]


def family(name: str) -> str | None:
    """The family a series name belongs to: itself, or a histogram's for its suffixed series."""
    if FAMILIES.get(name) in ("gauge", "counter"):
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name.removesuffix(suffix)
        if base != name and FAMILIES.get(base) == "histogram":
            return base
    return None


def test_the_assets_query_only_metrics_revsync_exposes() -> None:
    unknown = [
        f"{path.relative_to(ROOT)}: {name}"
        for path, expr in expressions()
        for name in _NAME.findall(expr)
        if family(name) is None
    ]
    assert not unknown, f"not exposed by revsync (or a histogram without its suffix): {unknown}"


def test_the_assets_select_only_known_age_buckets() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: {value}"
        for path, expr in expressions()
        for op, values in _AGE_MATCHER.findall(expr)
        for value in (values.replace("\\", "").split("|") if "~" in op else [values])
        if value not in AGES
    ]
    assert not wrong, f"not an age bucket: {wrong}"


def test_the_dashboard_has_no_duplicate_panel_ids() -> None:
    ids = [panel["id"] for panel in panels(json.loads(DASHBOARD.read_text())["panels"])]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_rule_is_an_alert_with_a_severity_and_a_summary() -> None:
    for rule in rules():
        assert rule.get("alert") and rule.get("expr"), rule
        assert rule.get("labels", {}).get("severity") in {"page", "ticket"}, rule["alert"]
        assert rule.get("annotations", {}).get("summary"), rule["alert"]
