"""Clicking through the console in Chromium: an operator opens the refused delivery's case,
retries it and sees it close once the worker delivers; an analyst follows an invoice's usage
line to the events behind it. ``REVSYNC_CONSOLE_SCREENSHOTS=docs/console`` also writes the
screenshots docs/console.md shows."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Dataset
from tests.support.server import Server

pytestmark = pytest.mark.xdist_group("browser")

SHOTS = os.environ.get("REVSYNC_CONSOLE_SCREENSHOTS")


def sign_in(page: Page, server: Server, key: str) -> None:
    page.goto(f"{server.url}/console/")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=/console/$"))
    if SHOTS:
        shot(page, "sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/console/")


def shot(page: Page, name: str, *, whole: bool = True) -> None:
    """A screenshot for docs/console.md, when asked for (``whole``: the page, not the window)."""
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=whole)


def test_an_operator_retries_a_refused_delivery_and_sees_its_case_close(
    page: Page, dataset: Dataset
) -> None:
    server = dataset.server
    sign_in(page, server, dataset.ops_key)
    health = page.get_by_role("region", name="Flow health")
    books = health.get_by_role("row").filter(has_text="books")
    expect(books.get_by_role("cell").nth(3)).to_have_text("1")  # one failed message
    shot(page, "overview")

    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Cases").click()
    rows = page.locator("main table").first.get_by_role("row").filter(has_text="delivery")
    expect(rows).to_have_count(1)
    shot(page, "cases")
    rows.get_by_role("link").first.click()
    expect(page.locator("#case-status")).to_have_text("open")
    expect(page.get_by_role("main")).to_contain_text("injected fault")
    shot(page, "case")

    page.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_have_text("Done: retry.")
    # the worker delivers the message again; the case closes itself
    for _ in range(100):
        if page.locator("#case-status").inner_text() == "resolved":
            break
        page.wait_for_timeout(200)
        page.reload()
    expect(page.locator("#case-status")).to_have_text("resolved")
    expect(page.locator("#message-status")).to_have_text("delivered")
    keys = {d["body"]["data"]["id"] for d in dataset.target.documents()}
    assert dataset.failed_invoice in keys


def test_an_analyst_follows_an_invoice_line_to_the_events_behind_it(
    page: Page, dataset: Dataset
) -> None:
    server = dataset.server
    sign_in(page, server, dataset.read_key)
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="cust-03").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Customer 03")
    expect(page.get_by_role("img", name="api_calls per day, last 30 days")).to_be_visible()
    entitled = page.get_by_role("region", name="Entitlements")
    expect(entitled.get_by_role("row").filter(has_text="sso")).to_contain_text("included")
    expect(entitled.get_by_role("row").filter(has_text="storage")).to_contain_text("50")
    shot(page, "customer")

    invoices = page.get_by_role("region", name="Invoices")
    invoices.get_by_role("row").filter(has_text="arrears").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Invoice")
    # customer 3 (on the metered plan) sent 40 + 3 × 5 calls last month, at 0.05 EUR each
    expect(page.get_by_role("table").first.get_by_role("row").nth(1)).to_contain_text("2.75")
    shot(page, "invoice")
    page.get_by_role("link", name="55 events").first.click()
    expect(page.locator("#events-billed")).to_have_text("55")
    expect(page.locator("table.events tbody tr")).to_have_count(50)
    shot(page, "events", whole=False)
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("table.events tbody tr")).to_have_count(5)

    sections = page.get_by_role("navigation", name="Sections")
    sections.get_by_role("link", name="Reconciliations").click()
    page.locator("main table tbody tr").first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("clean")
    shot(page, "reconciliation")
