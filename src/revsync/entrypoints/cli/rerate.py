"""``revsync rerate``: a plan run over periods already billed, beside what was issued."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from revsync.application.rerates import RerateRequest
from revsync.domain.money import plain, quantum
from revsync.domain.rerating import DEFAULT_TOP, CustomerDiff, Rerate
from revsync.entrypoints.cli.context import ConfigOption, console, container_for, err_console
from revsync.entrypoints.runtime import tune_gc
from revsync.schemas.rerates_v1 import rerate_out


def rerate(
    start: Annotated[
        str, typer.Option("--from", help="The first day whose periods are rated (YYYY-MM-DD).")
    ],
    end: Annotated[
        str, typer.Option("--to", help="The last day whose periods are rated (inclusive).")
    ],
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="A stored plan: CODE (its newest version) or CODE@VERSION."),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option(
            "--plan-file",
            help="A plan not stored: YAML or JSON, as a plan of the config (with its code).",
        ),
    ] = None,
    customers: Annotated[
        str | None,
        typer.Option(help="Only these customers, comma-separated (default: all on the plan)."),
    ] = None,
    replaces: Annotated[
        str | None,
        typer.Option(help="The plan code whose subscriptions it takes (default: its own)."),
    ] = None,
    top: Annotated[
        int, typer.Option(help="How many customers each ranking lists.", min=0, max=1000)
    ] = DEFAULT_TOP,
    lines: Annotated[
        bool, typer.Option("--lines", help="Also print each customer's periods and lines.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the re-rate as JSON.")] = False,
    config: ConfigOption = None,
) -> None:
    """Shadow re-rate: rate the periods billed from --from to --to again on a plan version or
    a plan not stored, and compare them with the invoices issued, per customer and line,
    before tax. Nothing is written. Exits 1 when a period could not be rated again."""
    if (plan is None) == (plan_file is None):
        raise typer.BadParameter("give --plan or --plan-file, one of them", param_hint="--plan")
    request = RerateRequest(
        start=_day(start, "--from"),
        end=_day(end, "--to"),
        plan=plan,
        definition=_definition(plan_file) if plan_file is not None else None,
        customers=[c.strip() for c in customers.split(",") if c.strip()] if customers else None,
        replaces=replaces,
        top=top,
    )
    tune_gc()  # as `revsync bill` does: a re-rate allocates as a billing run does
    with container_for(config) as container:
        report = container.rerates().run(request)
    if as_json:
        print(json.dumps(rerate_out(report), indent=2))
    else:
        for text in readable(report, lines=lines):
            console.print(text, highlight=False, soft_wrap=True, markup=False)
    for error in report.errors:
        err_console.print(
            f"not re-rated: {error.subscription_id} ({error.customer_id}): {error.reason}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if report.errors:
        raise typer.Exit(1)


def readable(report: Rerate, *, lines: bool = False) -> list[str]:
    """The re-rate for people: per customer issued, re-rated, difference and percent; the top
    movers; the overall figures."""
    money = _Money(report.currency)
    stored = "stored" if report.stored else "not stored"
    out = [
        f"shadow re-rate on {report.plan} ({stored}) of the subscriptions on {report.replaces}: "
        f"periods from {report.start} to {report.end}, in {report.currency}, before tax",
        "",
    ]
    width = max([len("customer"), *(len(c.customer_id) for c in report.customers)])
    out.append(
        f"{'customer':<{width}}  {'issued':>14}  {'re-rated':>14}  {'difference':>14}  {'%':>9}"
    )
    for customer in report.customers:
        out.append(
            f"{customer.customer_id:<{width}}  {money(customer.issued):>14}  "
            f"{money(customer.rerated):>14}  {money(customer.difference, sign=True):>14}  "
            f"{_percent(customer.relative):>9}"
        )
        if lines:
            out += _periods(customer, money)
    out.append("")
    out.append(
        "top movers by amount: "
        + (
            ", ".join(f"{c.customer_id} {money(c.difference, sign=True)}" for c in report.by_amount)
            or "none"
        )
    )
    out.append(
        "top movers by percent: "
        + (", ".join(f"{c.customer_id} {_percent(c.relative)}" for c in report.by_share) or "none")
    )
    periods = sum(len(c.periods) for c in report.customers)
    out.append(
        f"overall: issued {money(report.issued)}, re-rated {money(report.rerated)}, "
        f"difference {money(report.difference, sign=True)} ({_percent(report.relative)}) over "
        f"{_count(len(report.customers), 'customer')} and {_count(periods, 'period')}"
    )
    return out


def _periods(customer: CustomerDiff, money: _Money) -> list[str]:
    out = []
    for diff in customer.periods:
        number = diff.number or "not issued"
        out.append(
            f"  {diff.subscription_id} {diff.kind.value} {diff.period} ({number}): issued "
            f"{money(diff.issued)}, re-rated {money(diff.rerated)}, difference "
            f"{money(diff.difference, sign=True)}"
        )
        for line in diff.lines:
            out.append(
                f"    {line.key}: {money(line.issued)} → {money(line.rerated)} "
                f"({money(line.difference, sign=True)}) {line.description}"
            )
    return out


class _Money:
    """Amounts in the currency's minor unit."""

    def __init__(self, currency: str) -> None:
        self._unit = quantum(currency)

    def __call__(self, amount: Decimal, *, sign: bool = False) -> str:
        text = plain(amount.quantize(self._unit))
        return f"+{text}" if sign and amount > 0 else text


def _percent(value: Decimal | None) -> str:
    if value is None:
        return "n/a"
    return f"{'+' if value > 0 else ''}{plain(value)}%"


def _count(n: int, one: str) -> str:
    return f"{n} {one if n == 1 else one + 's'}"


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"not a date (YYYY-MM-DD): {text!r}", param_hint=option) from None


class _ExactLoader(yaml.SafeLoader):
    """YAML (and JSON) with decimals read exactly: ``0.002`` is ``Decimal("0.002")``."""


def _exact(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    return Decimal(str(loader.construct_scalar(node)).replace("_", ""))  # type: ignore[arg-type]


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact)


def _definition(path: Path) -> dict[str, Any]:
    """The plan in ``path``: a mapping with its code, as a plan of the config."""
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_ExactLoader)  # noqa: S506 - a SafeLoader subclass
    except (OSError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"cannot read {path}: {error}", param_hint="--plan-file") from None
    except yaml.YAMLError as error:
        raise typer.BadParameter(
            f"{path} is not YAML or JSON: {getattr(error, 'problem', None) or error}",
            param_hint="--plan-file",
        ) from None
    if not isinstance(loaded, dict):
        raise typer.BadParameter(
            f"{path}: expected a plan (a mapping with code, name, currency …)",
            param_hint="--plan-file",
        )
    return loaded
