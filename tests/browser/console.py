"""Driving the console the way a user does: by roles and accessible names (what a screen
reader announces), not by CSS classes or ids, so the tests survive restyling. Playwright is
imported lazily: without it the tests still collect, and the `browser` fixture skips them
(errors them under CI)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Locator, LocatorAssertions, Page, PageAssertions

SERIOUS = ("serious", "critical")


def expect(target: Locator) -> LocatorAssertions:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def expect_page(target: Page) -> PageAssertions:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def heading(page: Page, name: str) -> Locator:
    """The view's top heading, whose name starts with `name` ("Patient: pat-1")."""
    return page.get_by_role("heading", level=1, name=re.compile(rf"^{re.escape(name)}"))


def nav_link(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation").get_by_role("link", name=name, exact=True)


def demo_login(page: Page) -> None:
    page.goto("/console")
    page.get_by_role("button", name=re.compile("demo", re.I)).click()
    expect(page.get_by_role("navigation")).to_be_visible()


def token_login(page: Page, token: str) -> None:
    page.goto("/console")
    page.get_by_label(re.compile("access token", re.I)).fill(token)
    page.get_by_role("button", name=re.compile(r"^log in$", re.I)).click()
    expect(page.get_by_role("navigation")).to_be_visible()


def open_view(page: Page, name: str) -> None:
    """Follow the navigation link `name`; wait for the view's heading."""
    nav_link(page, name).click()
    expect(heading(page, name)).to_be_visible()


def data_rows(table: Locator) -> Locator:
    """The rows of a table that hold cells (not the header row)."""
    return table.get_by_role("row").filter(has=table.page.get_by_role("cell"))


def screenshot(page: Page, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def axe_violations(page: Page, axe_source: str, directory: Path, name: str) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is; keep the full result as an artifact and return
    the serious and critical violations. Injected through the DevTools protocol (evaluate),
    which the console's Content-Security-Policy (scripts from the origin only) does not stop,
    so the tests need not switch CSP off."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source)
    result: dict[str, Any] = page.evaluate(
        """async () => {
          const r = await window.axe.run(document, { resultTypes: ["violations"] });
          return { url: r.url, violations: r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
            nodes: v.nodes.map((n) => ({
              target: n.target, html: n.html, summary: n.failureSummary,
            })),
          })) };
        }"""
    )
    (directory / f"{name}.axe.json").write_text(json.dumps(result, indent=2))
    return [v for v in result["violations"] if v["impact"] in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(" ".join(n["target"]) for n in v["nodes"])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {targets}")
    return "\n".join(lines)


def expect_intact(page: Page) -> None:
    """The view's integrity region shows a verification result, and it is "intact"."""
    region = page.get_by_role("region", name=re.compile("integrity", re.I))
    expect(region.get_by_text(re.compile(r"^\s*intact\b", re.I)).first).to_be_visible(
        timeout=30_000
    )
    expect(region.get_by_text(re.compile(r"not intact", re.I))).to_have_count(0)
