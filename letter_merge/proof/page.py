"""The proof page: one self-contained HTML file (styles, script and thumbnails inside; no server,
no internet) with a card per letter, to look through a whole batch in a browser."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import jinja2

from letter_merge.records.proofs import Card
from letter_merge.workbook import AUTHORITY_TYPES

PAGE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Proof: Annual Review letters {{ year }}</title>
<style>
  :root { --navy: #1f3a5f; --line: #d5dbe3; --bad: #b3261e; --good: #1e7b34; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Arial, sans-serif; color: #1b1f24; background: #f3f5f8; }
  header { position: sticky; top: 0; z-index: 1; background: var(--navy); color: #fff; padding: 14px 24px; display: flex; flex-wrap: wrap; gap: 12px 28px; align-items: center; }
  header h1 { font-size: 20px; margin: 0; font-weight: 600; }
  header .summary { opacity: .9; }
  header label { display: flex; gap: 6px; align-items: center; cursor: pointer; }
  header select, header input[type=search] { font: inherit; padding: 4px 8px; border-radius: 4px; border: 0; }
  main { padding: 20px 24px 40px; }
  .changes { background: #fff8e1; border: 1px solid #f0d48a; border-radius: 6px; padding: 10px 16px; margin-bottom: 20px; }
  .changes h2 { font-size: 16px; margin: 4px 0 8px; }
  .changes ul { margin: 0; padding-left: 20px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(380px, 100%), 1fr)); gap: 16px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; display: grid; grid-template-columns: 130px minmax(0, 1fr); gap: 14px; padding: 14px; }
  .card.problem { border: 2px solid var(--bad); }
  .card[hidden] { display: none; }
  .thumb img { width: 130px; border: 1px solid var(--line); box-shadow: 0 1px 3px rgba(0,0,0,.12); display: block; }
  .card h2 { font-size: 16px; margin: 0 0 2px; color: var(--navy); }
  .meta { color: #555; font-size: 13px; margin: 0 0 8px; }
  .meta span { display: block; overflow-wrap: anywhere; }
  table { border-collapse: collapse; width: 100%; table-layout: fixed; font-size: 13px; margin-bottom: 8px; }
  th:first-child { width: 46%; }
  th { font-size: 12px; color: #555; }
  th, td { text-align: left; padding: 2px 4px; border-bottom: 1px solid #eef1f5; }
  .n { text-align: right; font-variant-numeric: tabular-nums; }
  ul.checks { list-style: none; margin: 0; padding: 0; font-size: 13px; }
  .moved { color: var(--bad); font-weight: 600; font-size: 12px; }
  ul.checks li.bad { color: var(--bad); font-weight: 600; }
  ul.checks li.ok { color: var(--good); }
  .badge { display: inline-block; background: var(--bad); color: #fff; border-radius: 10px; padding: 0 8px; font-size: 12px; margin-left: 6px; vertical-align: middle; }
  .empty { color: #555; padding: 40px; text-align: center; }
  .checked { margin: 0 0 16px; color: #444; font-size: 14px; }
  /* Focus shows at 3:1 or better on every background: dark on the page, white on the header. */
  :focus-visible { outline: 3px solid #1b1f24; outline-offset: 2px; box-shadow: 0 0 0 2px #fff; }
  header :focus-visible { outline-color: #fff; box-shadow: 0 0 0 2px var(--navy); }
  html { scroll-padding-top: 8rem; }
  /* Narrow (a phone, or 400% zoom): the header scrolls away; one column of cards. */
  @media (max-width: 40em), (max-height: 30em) {
    header { position: static; padding: 10px 14px; }
    main { padding: 12px 8px 30px; }
    .card { grid-template-columns: minmax(0, 1fr); }
    html { scroll-padding-top: 0; }
  }
</style>
</head>
<body>
<header>
  <h1>Proof: Annual Review letters {{ year }}</h1>
  <div class="summary">{{ cards|length }} letters · <strong>{{ problem_count }}</strong> with problems · <a href="all-letters.pdf" style="color:#fff">all letters as one PDF</a></div>
  <label><input type="checkbox" id="problems-only"> Problems only</label>
  <label>Type <select id="kind"><option value="">All</option>{% for kind, n in kinds %}<option value="{{ kind }}">{{ kind }} ({{ n }})</option>{% endfor %}</select></label>
  <label>Find <input type="search" id="find" placeholder="council or name"></label>
  <div class="summary" id="shown" aria-live="polite"></div>
</header>
<main>
{% if check_names %}<p class="checked">The checks made on each letter: {{ check_names|join('; ') }}.</p>{% endif %}
{% if changes %}
<section class="changes"><h2>Since last year</h2><ul>{% for change in changes %}<li>{{ change }}</li>{% endfor %}</ul></section>
{% endif %}
<div class="grid" id="cards">
{% for card in cards %}
<article class="card{% if card.problems %} problem{% endif %}" data-kind="{{ card.authority_type }}" data-problems="{{ card.problems|length }}" data-text="{{ (card.authority ~ ' ' ~ card.recipient ~ ' ' ~ card.email)|lower }}">
  <a class="thumb" href="{{ card.pdf }}" title="Open the PDF">{% if card.thumbnail %}<img src="{{ card.thumbnail }}" alt="Page 1 of the letter to {{ card.authority }}" loading="lazy">{% else %}No PDF{% endif %}</a>
  <div>
    <h2><a href="{{ card.pdf }}" style="color:inherit">{{ card.authority }}</a>{% if card.problems %}<span class="badge">{{ card.problems|length }} problem{{ 's' if card.problems|length != 1 }}</span>{% endif %}</h2>
    <p class="meta"><span>{{ card.authority_type }} · {{ card.pages }} page{{ 's' if card.pages != 1 }}</span><span>{{ card.recipient }}</span><span>{{ card.email }}</span>{% if card.cc %}<span>Cc {{ card.cc|join(', ') }}</span>{% endif %}</p>
    <table><tr><th>Figure</th><th class="n">Council</th><th class="n">Similar</th></tr>
    {% for f in card.figures %}<tr><td>{{ f.label }}</td><td class="n">{{ '–' if f.rate is none else f.rate ~ '%' }}{% if f.rate_moved %}<br><span class="moved">workbook now: {{ '–' if f.rate_now is none else f.rate_now ~ '%' }}</span>{% endif %}</td><td class="n">{{ '–' if f.average is none else f.average ~ '%' }}{% if f.average_moved %}<br><span class="moved">workbook now: {{ '–' if f.average_now is none else f.average_now ~ '%' }}</span>{% endif %}</td></tr>{% endfor %}
    </table>
    {% if card.problems %}<ul class="checks">{% for check in card.checks %}<li class="{{ 'ok' if check.ok else 'bad' }}">{{ '✓' if check.ok else '✗' }} {{ check.name }}{% if not check.ok and check.detail %}: {{ check.detail }}{% endif %}</li>{% endfor %}</ul>
    {% else %}<ul class="checks"><li class="ok" title="{{ card.checks|map(attribute='name')|join(', ') }}">✓ All {{ card.checks|length }} checks passed</li></ul>{% endif %}
  </div>
</article>
{% endfor %}
</div>
<p class="empty" id="none" hidden>No letters match.</p>
<p class="empty" id="all-passed" hidden>Every letter passed every check: there are no problems to show.</p>
</main>
<script>
(function () {
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var problemsOnly = document.getElementById("problems-only");
  var kind = document.getElementById("kind");
  var find = document.getElementById("find");
  function apply() {
    var shown = 0, text = find.value.trim().toLowerCase();
    cards.forEach(function (card) {
      var visible = (!problemsOnly.checked || card.dataset.problems !== "0")
        && (!kind.value || card.dataset.kind === kind.value)
        && (!text || card.dataset.text.indexOf(text) !== -1);
      card.hidden = !visible;
      if (visible) { shown += 1; }
    });
    document.getElementById("shown").textContent = shown + " shown";
    // "Problems only" with nothing wrong anywhere is good news, not an empty search.
    var allPassed = shown === 0 && problemsOnly.checked && {{ problem_count }} === 0;
    document.getElementById("all-passed").hidden = !allPassed;
    document.getElementById("none").hidden = shown !== 0 || allPassed;
  }
  // Whatever gets focus scrolls to just below the header, while the header stays at the top.
  function padForHeader() {
    var header = document.querySelector("header");
    var sticky = getComputedStyle(header).position === "sticky";
    document.documentElement.style.scrollPaddingTop = sticky ? header.offsetHeight + 12 + "px" : "0px";
  }
  window.addEventListener("resize", padForHeader);
  if (window.ResizeObserver) { new ResizeObserver(padForHeader).observe(document.querySelector("header")); }
  padForHeader();
  problemsOnly.checked = location.hash === "#problems";
  [problemsOnly, kind, find].forEach(function (control) { control.addEventListener("input", apply); });
  apply();
})();
</script>
</body>
</html>
"""

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def render_index(year: int, cards: Sequence[Card], changes: Sequence[str]) -> str:
    counts = Counter(card.authority_type for card in cards)
    return _ENVIRONMENT.from_string(PAGE).render(
        year=year,
        # Letters with problems first (otherwise in the workbook's order): what to look at.
        cards=sorted(cards, key=lambda card: not card.problems),
        changes=changes,
        problem_count=sum(1 for card in cards if card.problems),
        # What "all checks passed" means, in words on the page (not only in a tooltip).
        check_names=next(([c.name for c in card.checks] for card in cards if card.checks), []),
        kinds=[(kind, counts[kind]) for kind in AUTHORITY_TYPES if counts[kind]],
    )
