"""The desk for every member of staff (WCAG 2.2 AA), in a real browser: axe-core over every step
with its results showing, at 1280 CSS px and at 320 (400% zoom), the page reflowing at 320, and the
keyboard: every control reached by Tab and by Shift+Tab, its focus ring at 3:1 or better against
what is around it, and never under the header. One browser session walks the July flow once."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect, sync_playwright

from letter_merge.app.statuses import STATES
from tests.helpers import CHROMIUM_FLAGS, Recorder
from tests.test_desk_browser import desk, workbook

pytestmark = [pytest.mark.browser, pytest.mark.libreoffice]

__all__ = ["desk"]  # the fixture, shared with test_desk_browser

WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
WIDE: ViewportSize = {"width": 1280, "height": 900}
NARROW: ViewportSize = {"width": 320, "height": 256}  # 1280 x 1024 at 400%
ME = "me@ombudsman.example"

# What has focus now (inside a same-origin frame, what has focus in it): its focus ring's
# contrast with what surrounds it, and whether anything (the sticky header) covers its top edge.
FOCUSED = """() => {
  const channel = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const contrast = (a, b) => {
    const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (light + 0.05) / (dark + 0.05);
  };
  const colour = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const behind = (node) => {
    for (let n = node; n && n.nodeType === 1; n = n.parentElement) {
      const c = colour(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  // Is the element's top edge (inside the viewport) the element itself, not something over it?
  const onTop = (doc, node, rect, dx, dy, width, height) => {
    const top = Math.max(rect.top, 0) + 2, bottom = Math.min(rect.bottom, height) - 1;
    const left = Math.max(rect.left, 0), right = Math.min(rect.right, width);
    if (bottom <= top || right <= left) return "out of view";
    const hit = doc.elementFromPoint((left + right) / 2, top);
    if (!hit || !(hit === node || node.contains(hit))) return "covered by " + (hit ? hit.tagName + (hit.id ? "#" + hit.id : "") : "nothing");
    return "";
  };
  const frames = [];
  let doc = document, node = document.activeElement;
  while (node && node.tagName === "IFRAME") {
    if (!node.contentDocument) return {name: "frame " + node.id, opaque: true};
    frames.push(node);
    doc = node.contentDocument;
    node = doc.activeElement;
  }
  if (!node || node === doc.body || node === doc.documentElement) return null;
  window.__reached = window.__reached || [];
  if (!window.__reached.includes(node)) window.__reached.push(node);
  const style = getComputedStyle(node);
  const rect = node.getClientRects()[0] || node.getBoundingClientRect();  // a link's first line
  const view = doc.defaultView;
  let hidden = onTop(doc, node, rect, 0, 0, view.innerWidth, view.innerHeight);
  let dx = 0, dy = 0;
  for (const frame of frames) { const r = frame.getBoundingClientRect(); dx += r.left; dy += r.top; }
  if (!hidden && frames.length) {
    const shifted = {top: rect.top + dy, bottom: rect.bottom + dy, left: rect.left + dx, right: rect.right + dx};
    hidden = onTop(document, frames[0], shifted, 0, 0, innerWidth, innerHeight);
  }
  return {
    name: (frames.length ? "in " + frames[0].id + ": " : "") + node.tagName.toLowerCase() +
          (node.id ? "#" + node.id : "") + " " + (node.textContent || node.getAttribute("aria-label") || "").trim().slice(0, 40),
    index: window.__reached.indexOf(node),
    ring: style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth),
    contrast: contrast(colour(style.outlineColor).slice(0, 3), behind(node.parentElement)),
    hidden,
  };
}"""

# Every control a person can Tab to, in the page and in the proof's frame.
CONTROLS = """() => {
  const controls = [];
  const collect = (doc, where) => {
    for (const node of doc.querySelectorAll("a[href], button, input, select, textarea, summary, [tabindex]")) {
      if (node.disabled || node.tabIndex < 0 || !node.checkVisibility({visibilityProperty: true})) continue;
      if (node.tagName === "IFRAME") {
        if (node.contentDocument) collect(node.contentDocument, node.id + ": ");
        continue;
      }
      controls.push(node);
    }
  };
  collect(document, "");
  window.__controls = controls;
  return controls.length;
}"""

UNREACHED = """() => window.__controls.filter((node) => !(window.__reached || []).includes(node))
  .map((node) => node.tagName.toLowerCase() + (node.id ? "#" + node.id : "") + " " + node.textContent.trim().slice(0, 40))"""


def audit(page: Page, view: str) -> None:
    """No WCAG 2.2 A/AA violation at 1280 px and at 320 px, and no sideways scrolling at 320."""
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    for size in (WIDE, NARROW):
        resized(page, size)
        results = Axe().run(
            page,
            options={
                "runOnly": {"type": "tag", "values": WCAG_22_AA},
                "resultTypes": ["violations"],
                "iframes": False,  # the proof page is audited on its own
            },
        )
        assert results.violations_count == 0, f"{view} at {size['width']} px:\n" + (
            results.generate_report()
        )
        if size is NARROW:
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 320, f"{view}: {width} px wide at 320"
    page.set_viewport_size(WIDE)


def resized(page: Page, size: ViewportSize) -> None:
    """The page at `size`, once the page's own resize observers have marked what scrolls (they
    run with the next frames, not at once)."""
    page.set_viewport_size(size)
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def keyboard(page: Page, view: str) -> None:
    """Tab, then Shift+Tab, through the whole page at 1280 px and at 320 px: every control gets
    focus, shows it at 3:1, and is not under the header."""
    for size in (WIDE, NARROW):
        resized(page, size)
        for key in ("Tab", "Shift+Tab"):
            page.evaluate("() => { window.__reached = []; document.activeElement.blur(); }")
            expected = page.evaluate(CONTROLS)
            faults: list[str] = []
            order: list[str] = []
            first: int | None = None
            for _ in range(expected + 30):
                page.keyboard.press(key)
                focused: dict[str, Any] | None = page.evaluate(FOCUSED)
                if focused is None or focused.get("opaque"):
                    # Focus going into or out of the email's frame (another process) takes a
                    # moment: look again once it has settled.
                    page.wait_for_timeout(150)
                    focused = page.evaluate(FOCUSED)
                if focused is None or focused.get("opaque"):
                    order.append(str(focused and focused["name"]))
                    continue
                order.append(focused["name"])
                if first is not None and focused["index"] == first:
                    break  # round the page once
                if first is None:
                    first = focused["index"]
                if focused["ring"] < 2 or focused["contrast"] < 3:
                    faults.append(
                        f"{focused['name']}: ring {focused['ring']} px at "
                        f"{focused['contrast']:.2f}:1"
                    )
                if focused["hidden"]:
                    faults.append(f"{focused['name']}: {focused['hidden']}")
            where = f"{view}, {key} at {size['width']} px"
            assert faults == [], where + "\n" + "\n".join(faults)
            assert page.evaluate(UNREACHED) == [], where + ", after:\n" + "\n".join(order)
    page.set_viewport_size(WIDE)


def focused_id(page: Page) -> str:
    return str(page.evaluate("document.activeElement.id"))


def test_every_step_for_every_member_of_staff(
    desk: str, server: tuple[Recorder, int], tmp_path: Path
) -> None:
    work = tmp_path / "work"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        context = browser.new_context(viewport=WIDE)
        page = context.new_page()
        page.goto(desk)
        expect(page.locator("#file-list")).to_contain_text("input/councils.xlsx")
        # The title names the step gone to.
        expect(page).to_have_title("letter-merge desk")
        page.get_by_role("navigation").get_by_role("link", name="Proof").click()
        expect(page).to_have_title("Proof — letter-merge desk")
        page.get_by_role("navigation").get_by_role("link", name="Queue and test").click()
        expect(page).to_have_title("Queue and test send — letter-merge desk")
        # Progress is not read out at every tick: the header's line is no live region.
        live = "document.getElementById('job').closest('[aria-live], [role=status]')"
        assert page.evaluate(live) is None

        # Check, with a problem: the result is announced.
        page.click("#run-check")
        expect(page.locator("#check-state")).to_contain_text("1 problem to fix")
        expect(page.locator("#check-state")).to_have_attribute("aria-live", "polite")
        audit(page, "Check, a problem")
        workbook(work / "input" / "councils.xlsx", 5)
        page.click("#run-check")
        expect(page.locator("#check-state")).to_contain_text("No problems: 5 councils")

        # Preview: the pages and the email shown.
        page.fill("#preview-name", "Derby")
        page.click("#preview-form button")
        expect(page.locator("#preview-state")).to_contain_text("3 pages", timeout=60_000)
        audit(page, "Preview")

        # Build and proof, pressed from the keyboard: while the button waits, focus is on what
        # the step says, not on the page.
        page.focus("#run-build")
        page.keyboard.press("Enter")
        expect(page.locator("#build-results")).to_contain_text("Built 5 letters", timeout=120_000)
        assert focused_id(page) == "build-results"
        page.focus("#run-proof")
        page.keyboard.press("Enter")
        expect(page.locator("#proof-results")).to_contain_text(
            "every check passed", timeout=120_000
        )
        assert focused_id(page) == "proof-results"
        expect(page.frame_locator("#proof-frame").locator("article.card")).to_have_count(5)
        audit(page, "Build and Proof")

        # The proof page on its own, as letter-merge writes it.
        proof = context.new_page()  # with the desk's key
        proof.goto(desk.split("?")[0] + "proof/")
        expect(proof.locator("article.card")).to_have_count(5)
        expect(proof.locator("main")).to_contain_text(
            "The checks made on each letter: Built from the current inputs; "
        )
        audit(proof, "the proof page")
        keyboard(proof, "the proof page")
        proof.close()

        # Approve, queue, and the test send's plan (announced).
        page.fill("#approve-by", "Sam Smith")
        page.click("#approve-form button[type=submit]")
        expect(page.locator("#approve-results")).to_contain_text("Approved 5 letters")
        page.click("#run-queue")
        expect(page.locator("#queue-results")).to_contain_text("Queued 5 emails")
        page.fill("#test-to", ME)
        page.focus("#test-form button[type=submit]")
        page.keyboard.press("Enter")
        expect(page.locator("#test-plan")).to_contain_text("5 test copies go to")
        expect(page.locator("#test-plan")).to_have_attribute("aria-live", "polite")
        assert focused_id(page) == "test-plan"
        audit(page, "Approve, Queue and the test plan")

        # Send: the plan, then the send; the Send button hides when it is done, and focus stays
        # on what the send says.
        page.click("#plan-send")
        expect(page.locator("#send-plan")).to_contain_text("5 messages go from")
        audit(page, "the send plan")
        keyboard(page, "the send plan")
        page.focus("#run-send")
        page.keyboard.press("Enter")
        expect(page.locator("#send-results")).to_contain_text("Sent 5 messages.", timeout=60_000)
        expect(page.locator("#run-send")).to_be_hidden()
        assert focused_id(page) == "send-results"

        # Status: each state's meaning in words beside its count, announced only when it changes.
        counts = page.locator("#status-counts")
        expect(counts).to_contain_text("sent: 5 — " + STATES["sent"][0])
        page.evaluate("""() => {
          window.__redrawn = 0;
          new MutationObserver(() => { window.__redrawn += 1; })
            .observe(document.getElementById('status-counts'), {childList: true, subtree: true, characterData: true});
        }""")
        page.click("#refresh-status")
        expect(page.locator("#status-list tr")).to_have_count(5)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__redrawn") == 0
        page.get_by_role("button", name="Derby City Council").click()
        expect(page.locator("#status-list tr.history-row")).to_contain_text("History of Derby")
        # Publish, whatever it answers (the batch sets no publication date).
        page.focus("#run-publish")
        page.keyboard.press("Enter")
        expect(page.locator("#publish-results p")).not_to_have_class("working")
        assert focused_id(page) == "publish-results"
        audit(page, "Send, Status and Publish")
        keyboard(page, "Send, Status and Publish, a history open")
        browser.close()
