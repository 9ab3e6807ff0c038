"""The console in a real browser: log in, the patient timeline after generated traffic, an
alert followed to its evidence and acknowledged, the integrity view; a screenshot of each
view is kept as a test artifact and axe-core finds no serious or critical violation."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tests.browser.console import (
    axe_violations,
    data_rows,
    demo_login,
    describe,
    expect,
    expect_intact,
    heading,
    open_view,
    screenshot,
    token_login,
)
from tests.browser.traffic import Traffic

if TYPE_CHECKING:
    from playwright.sync_api import Page


def check_view(page: Page, axe_source: str, artifacts: Path, name: str) -> None:
    """Screenshot the view as it is, then assert axe-core finds nothing serious."""
    screenshot(page, artifacts, name)
    serious = axe_violations(page, axe_source, artifacts, name)
    assert not serious, f"axe-core on the {name} view:\n{describe(serious)}"


def test_login_page_and_demo_login(
    page: Page, traffic: Traffic, axe_source: str, screenshot_dir: Path
) -> None:
    page.goto("/console")
    expect(heading(page, "Log in")).to_be_visible()
    check_view(page, axe_source, screenshot_dir, "login")
    demo_login(page)
    expect(page.get_by_text(re.compile("console-demo"))).to_be_visible()


def test_paste_a_token_read_only(page: Page, traffic: Traffic) -> None:
    """A pasted read-only auditor token: the console reads with it, and the auditor API
    refuses it an action on an alert, which the console shows."""
    token_login(page, traffic.token("pasted-auditor", "system/AuditEvent.rs"))
    expect(page.get_by_text(re.compile("pasted-auditor"))).to_be_visible()
    page.goto(f"/console#/alerts?id={traffic.break_glass_alert}")
    expect(heading(page, "Alert")).to_be_visible()
    expect(data_rows(page.get_by_role("table", name=re.compile("evidence", re.I)))).to_have_count(1)
    page.get_by_label(re.compile("^reason", re.I)).fill("read-only auditors cannot act")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("alert")).to_contain_text("403")
    page.get_by_role("button", name=re.compile("log out", re.I)).click()
    expect(heading(page, "Log in")).to_be_visible()
    expect(page.get_by_role("navigation")).to_be_hidden()


def test_patient_timeline_shows_the_generated_traffic(
    page: Page, traffic: Traffic, axe_source: str, screenshot_dir: Path
) -> None:
    demo_login(page)
    open_view(page, "Patient")
    page.get_by_label(re.compile("patient id", re.I)).fill(traffic.patient)
    page.get_by_role("button", name="Show").click()
    expect(heading(page, f"Patient: {traffic.patient}")).to_be_visible()
    timeline = page.get_by_role("table", name=re.compile(f"Accesses to {traffic.patient}"))
    expect(timeline).to_be_visible()
    rows = data_rows(timeline)
    expect(rows.first).to_be_visible()
    allowed = re.compile(r"^(allow|partial)$")  # partial: a search that withheld labels
    for sub in traffic.allowed_by:
        for row in rows.filter(has_text=sub).all():
            expect(row.get_by_role("cell", name=allowed)).to_have_count(1)
    expect(rows.filter(has_text="dr-treating")).to_have_count(3)
    expect(rows.filter(has_text="portal-app")).to_have_count(2)
    denied = rows.filter(has_text=traffic.denied_by)
    expect(denied).to_have_count(1)
    expect(denied.get_by_role("cell", name="deny", exact=True)).to_be_visible()
    expect(rows.filter(has_text=traffic.break_glass_by)).to_contain_text("ETREAT")
    expect_intact(page)
    check_view(page, axe_source, screenshot_dir, "patient")


def test_principal_view_shows_denials(
    page: Page, traffic: Traffic, axe_source: str, screenshot_dir: Path
) -> None:
    demo_login(page)
    open_view(page, "Principal")
    page.get_by_label(re.compile(r"principal", re.I)).first.fill(traffic.scope_denied_by)
    page.get_by_role("button", name="Show").click()
    expect(heading(page, f"Principal: {traffic.scope_denied_by}")).to_be_visible()
    accesses = page.get_by_role("table", name=re.compile(f"Accesses by {traffic.scope_denied_by}"))
    rows = data_rows(accesses)
    expect(rows).to_have_count(3)
    for row in rows.all():
        expect(row.get_by_role("cell", name="deny", exact=True)).to_be_visible()
        expect(row.get_by_role("cell", name="403", exact=True)).to_be_visible()
    # the activity chart: an image whose accessible name says what it shows
    chart = page.get_by_role("img", name=re.compile("distinct patients per hour", re.I))
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_name(re.compile(r"\b3 denials"))
    check_view(page, axe_source, screenshot_dir, "principal")


ACTOR = "console-auditor"


def test_alert_to_evidence_and_acknowledgement(
    page: Page, traffic: Traffic, axe_source: str, screenshot_dir: Path
) -> None:
    reason = "Checked with the ER rota: emergency admission (browser test)"
    # The demo login is read-only (acting on alerts needs AuditEvent update): an auditor
    # who may act logs in with a token of their own.
    token_login(page, traffic.token(ACTOR, "system/AuditEvent.rus"))
    open_view(page, "Alerts")
    feed = page.get_by_role("table", name=re.compile("^Alerts"))
    alert_row = data_rows(feed).filter(has_text=traffic.break_glass_by)
    expect(alert_row).to_have_count(1)
    expect(alert_row).to_contain_text("break_glass")
    check_view(page, axe_source, screenshot_dir, "alerts")

    alert_row.get_by_role("link", name=re.compile("open", re.I)).click()
    expect(heading(page, "Alert")).to_be_visible()
    evidence = page.get_by_role("table", name=re.compile("evidence", re.I))
    evidence_rows = data_rows(evidence)
    expect(evidence_rows).to_have_count(1)
    expect(evidence_rows).to_contain_text(traffic.break_glass_by)
    expect(evidence_rows).to_contain_text("ETREAT")
    (break_glass_request,) = traffic.request_ids[traffic.break_glass_by]
    request_link = re.compile(break_glass_request[:12])
    expect(evidence_rows.get_by_role("link", name=request_link)).to_be_visible()
    check_view(page, axe_source, screenshot_dir, "alert")

    page.get_by_label(re.compile(r"^action", re.I)).select_option("acknowledge")
    page.get_by_label(re.compile("^reason", re.I)).fill(reason)
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("status")).to_contain_text(re.compile("recorded", re.I))
    actions = page.get_by_role("table", name=re.compile("actions", re.I))
    action_row = data_rows(actions).filter(has_text=reason)
    expect(action_row).to_have_count(1)
    expect(action_row).to_contain_text("acknowledge")
    expect(action_row).to_contain_text(ACTOR)

    # The acknowledgement is evidence of its own: its request, opened from the action row.
    action_row.get_by_role("link").click()
    expect(heading(page, "Request")).to_be_visible()
    events_table = page.get_by_role("table", name=re.compile("^Events"))
    for _ in range(20):  # its evidence may still be on its way (the view says "yet"): Show again
        if events_table.count():
            break
        page.wait_for_timeout(250)
        page.get_by_role("button", name="Show").click()
    events = data_rows(events_table)
    # the request as audited and the acknowledgement's own chained event
    expect(events.filter(has_text="acknowledge").first).to_contain_text(ACTOR)
    check_view(page, axe_source, screenshot_dir, "request")
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the request view is wider than the window: {width}"

    # ... and the auditor API, asked by another auditor, says the same.
    headers = traffic.auditor("second-auditor")
    with httpx.Client(base_url=traffic.base_url, headers=headers, timeout=10) as http:
        alert = http.get(f"/audit/alerts/{traffic.break_glass_alert}").json()
        assert alert["status"] == "acknowledged"
        (action,) = [a for a in alert["actions"] if a["reason"] == reason]
        assert action["action"] == "acknowledge" and action["by"] == ACTOR
        lifecycle = http.get(f"/audit/requests/{action['request_id']}").json()
    assert any("acknowledge" in event["action"] for event in lifecycle["events"]), lifecycle


def test_integrity_view_shows_a_verification_result(
    page: Page, traffic: Traffic, axe_source: str, screenshot_dir: Path
) -> None:
    demo_login(page)
    open_view(page, "Integrity")
    expect_intact(page)
    checkpoints = page.get_by_role("table", name=re.compile("checkpoints", re.I))
    expect(data_rows(checkpoints).first).to_be_visible()
    check_view(page, axe_source, screenshot_dir, "integrity")


def test_axe_check_is_not_vacuous(page: Page, axe_source: str, tmp_path: Path) -> None:
    """The same check on a page built to fail it: an unlabelled input, an image without alt."""
    page.set_content("<html><body><main><input type=text><img src=x.png></main></body></html>")
    found = {v["id"] for v in axe_violations(page, axe_source, tmp_path, "selftest")}
    assert {"label", "image-alt"} <= found, found
