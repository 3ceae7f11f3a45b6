// The desk's page: each step calls the desk, which calls letter-merge's own functions.
// Text from the workbook is only ever set as text (never as HTML).
"use strict";

const csrf = document.querySelector('meta[name="csrf-token"]').content;
const $ = (id) => document.getElementById(id);

// "1 letter", "343 letters": as words.py counts them.
function counted(number, noun) {
  const plural = noun.endsWith("y") ? noun.slice(0, -1) + "ies" : noun + "s";
  return number.toLocaleString("en-GB") + " " + (number === 1 ? noun : plural);
}

async function call(url, body) {
  const options = body === undefined
    ? {}
    : {method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
       body: JSON.stringify(body)};
  let answer;
  try {
    answer = await fetch(url, options);
  } catch (error) {  // no answer at all: the desk has stopped
    deskStopped();
    throw {error: STOPPED};
  }
  const said = await answer.text();
  let data;
  try {
    data = JSON.parse(said);
  } catch (error) {  // the desk's guard answers in plain words (a desk started again: 403)
    data = {error: said.trim() || "The desk answered " + answer.status + "."};
  }
  if (!answer.ok) throw data;
  return data;
}

// -- the desk keeps up: every few seconds it asks whether the record changed, wherever the
// change was made (another tab, the command line), and shows it; and says so when it stopped.

const STOPPED = "The desk has stopped: start it again, then open the address it gives " +
  "(this page cannot do anything until then).";
let seenVersion = null;
let stopped = false;

function deskStopped() {
  if (stopped) return;
  stopped = true;
  $("desk-stopped").textContent = STOPPED;
  $("desk-stopped").hidden = false;
  $("job").textContent = "The desk has stopped.";
  for (const id of ["run-send", "run-test", "pause-send", "resume-send"]) $(id).hidden = true;
  for (const id of ["build-progress", "proof-progress", "send-progress"]) $(id).hidden = true;
}

async function keepUp() {
  let version;
  try {
    const answer = await fetch("/api/version");
    if (!answer.ok) throw answer.status;
    version = await answer.json();
  } catch (error) {
    deskStopped();
    return;
  }
  if (stopped) {  // back again (the same desk): show what it says now
    stopped = false;
    $("desk-stopped").hidden = true;
    $("job").textContent = "Nothing running.";
    loadState();
  }
  if (seenVersion !== null && version.record !== seenVersion) {
    loadStatus();
    loadState();
  }
  seenVersion = version.record;
}
setInterval(keepUp, 2500);

// Every refusal is said on the page, in words, even from a button with no box of its own.
function said(error) {
  if (error && error.error === STOPPED) return;
  show("desk-said", failure(error),
    el("button", {type: "button", onclick: () => { $("desk-said").hidden = true; }}, "Close"));
  $("desk-said").hidden = false;
}
window.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  said(event.reason);
});

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat(Infinity)) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function show(target, ...nodes) {
  const box = typeof target === "string" ? $(target) : target;
  box.replaceChildren(...nodes.flat(Infinity).filter((node) => node !== null && node !== undefined));
}

function when(stamp) {
  if (!stamp) return "";
  const date = new Date(stamp);
  if (isNaN(date)) return stamp;
  return date.toLocaleString("en-GB", {day: "numeric", month: "short", year: "numeric",
                                        hour: "2-digit", minute: "2-digit"});
}

function duration(minutes) {
  if (minutes < 1) return "under a minute";
  const whole = Math.ceil(minutes);
  return whole < 90 ? "about " + whole + " minutes" : "about " + (whole / 60).toFixed(1) + " hours";
}

// Anything that waits on the desk shows at once that it has started, and its button cannot be
// pressed twice meanwhile.
async function working(button, box, text, work) {
  show(box, el("p", {class: "working", role: "status"}, text));
  focusResult(button, box);
  if (button) button.disabled = true;
  try {
    await work();
  } finally {
    if (button) button.disabled = false;
  }
}

// Lists longer than this are folded, so that the buttons after them stay in view.
const OPEN_UP_TO = 10;

function folded(title, count, ...content) {
  if (count <= OPEN_UP_TO) return [el("h4", {}, title), ...content];
  return el("details", {}, el("summary", {}, title + " — show all " + count), ...content);
}

function lines(id) {
  return $(id).value.split("\n").map((s) => s.trim()).filter(Boolean);
}

function failure(error) {
  const text = (error && error.error) || String(error);
  const [first, ...rest] = text.split("\n");
  const nodes = [el("p", {class: "bad"}, first)];
  if (error && error.next) nodes.push(el("p", {}, "Next: ", nextStep(error.next)));
  if (error && error.problems) nodes.push(...problemList(error.problems));
  else if (rest.some((line) => line.trim())) {  // e.g. the councils an ambiguous name matches
    nodes.push(el("ul", {}, rest.filter((line) => line.trim()).map((line) =>
      el("li", {}, line.replace(/^\s*-\s*/, "")))));
  }
  if (error && error.warnings && error.warnings.length) {
    nodes.push(el("h4", {}, "Warnings (these stop nothing)"), ...problemList(error.warnings));
  }
  return nodes;
}

function problemList(groups) {
  return groups.map((group) => el("div", {class: "group"},
    el("h4", {}, group.file),
    el("ul", {}, group.items.map((item) =>
      el("li", {}, el("strong", {}, item.where), item.where ? ": " : "", item.message)))));
}

// A next step, as the desk words it, linking to the step of the page that takes it.
function nextStep(next) {
  if (!next || !next.section) return next ? next.text : "";
  return el("a", {href: "#" + next.section, class: "next-step",
                  onclick: (event) => { event.preventDefault(); takeStep(next); }}, next.text);
}

// The step taken: its panel opened, the council's name put in its field (or its box ticked).
function takeStep(next) {
  if (next.panel && $(next.panel)) $(next.panel).open = true;
  const field = next.field ? $(next.field) : null;
  if (field && field.type === "checkbox") field.checked = true;
  else if (field && next.council && !lines(next.field).includes(next.council)) {
    field.value = [...lines(next.field), next.council].join("\n");
  }
  const target = field || (next.panel && $(next.panel)) || $(next.section);
  target.scrollIntoView({block: "center"});
  if (field) field.focus({preventScroll: true});
  window.history.replaceState(null, "", "#" + next.section);
}

function peopleList(title, items, kind) {
  if (!items || !items.length) return null;
  return el("div", {class: "group " + (kind || "")},
    folded(title + " (" + items.length + ")", items.length,
      el("ul", {}, items.map((item) => typeof item === "string"
        ? el("li", {}, item)
        : el("li", {}, el("strong", {}, item.authority), ": ", item.why)))));
}

// -- 1. files ------------------------------------------------------------------------------

async function loadState() {
  const state = await call("/api/state");
  $("year").textContent = state.year;
  show("file-list", state.files.map((f) =>
    el("tr", {}, el("td", {}, f.label), el("td", {}, el("code", {}, f.name)), el("td", {}, f.changed))));
  $("pdf-kind").textContent = "Letters are made as " + state.pdf + ". Emails go from " +
    state.sender + " through " + state.server + ".";
  if (state.job) showJob(state.job);
}

$("open-folder").addEventListener("click", async () => {
  const answer = await call("/api/open-folder", {});
  $("folder-state").textContent = answer.opened ? "Opened." : "The folder is " + answer.folder;
});

// -- 2. check ------------------------------------------------------------------------------

$("run-check").addEventListener("click", async () => {
  $("check-state").textContent = "Checking…";
  try {
    const result = await call("/api/check", {});
    if (result.ok) {
      $("check-state").textContent = "No problems: " + counted(result.councils, "council") +
        ", every field known. Next: preview a letter, or build.";
      $("check-state").className = "next good";
      // What other steps said about the problems now fixed is no longer true.
      for (const id of ["preview-state", "build-results"]) {
        if ($(id).querySelector(".bad")) show(id);
      }
    } else {
      const problems = result.problems.reduce((n, group) => n + group.items.length, 0);
      const warnings = result.warnings.reduce((n, group) => n + group.items.length, 0);
      $("check-state").textContent = counted(problems, "problem") + " to fix in the files named" +
        (warnings ? " (and " + counted(warnings, "warning") + ", which stop nothing)" : "") +
        "; save, and check again:";
      $("check-state").className = "next bad";
    }
    show("check-results", problemList(result.problems),
      result.warnings.length ? el("h3", {}, "Warnings (these stop nothing)") : null,
      problemList(result.warnings));
    loadCouncils();
  } catch (error) {
    $("check-state").textContent = "The check could not be made:";
    $("check-state").className = "next bad";
    show("check-results", failure(error));
  }
});

// -- 3. preview ----------------------------------------------------------------------------

async function loadCouncils() {
  try {
    const answer = await call("/api/councils");
    show("council-list", answer.councils.map((c) => el("option", {value: c.name})));
  } catch (error) { /* the check step says what is wrong */ }
}

let previewed = null;  // the council shown, and the template's time when it was made
$("preview-form").addEventListener("submit", (event) => {
  event.preventDefault();
  showPreview($("preview-name").value);
});

// While a letter is shown, it is made again whenever the template is saved.
setInterval(async () => {
  if (!previewed || document.hidden) return;
  const state = await call("/api/state");
  const template = state.files.find((f) => f.label === "Letter template");
  if (template && template.changed_ns !== previewed.changed) showPreview(previewed.name);
}, 2000);

async function showPreview(name) {
  show("preview-state", el("span", {class: "working"}, "Making " + name + "'s letter…"));
  const before = await call("/api/state");
  const template = before.files.find((f) => f.label === "Letter template");
  const started = performance.now();
  try {
    const made = await call("/api/preview", {name});
    previewed = {name, changed: template ? template.changed_ns : null};
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    $("preview-state").textContent = made.authority + ": " + made.pages + " pages, in " + seconds + " s.";
    const stamp = Date.now();
    show("preview-pages", Array.from({length: made.pages}, (_, i) =>
      el("img", {src: "/preview/" + (i + 1) + ".png?v=" + stamp,
                 alt: "Page " + (i + 1) + " of " + made.authority + "'s letter"})));
    $("preview-email").src = "/preview/email.html?v=" + stamp;  // the email, as it will be seen
    $("preview-email").hidden = false;
  } catch (error) {
    previewed = null;
    show("preview-state", failure(error));
  }
}

// -- 4. build, 5. proof: jobs ------------------------------------------------------------------

// Letters already sent are built again only when the person says so.
$("run-build").addEventListener("click", async () => {
  const body = {only: lines("build-only")};
  try {
    const asked = await call("/api/build/plan", body);
    if (asked.confirm && !window.confirm(asked.confirm)) {
      show("build-results", el("p", {}, "Nothing was built."));
      return;
    }
  } catch (error) { show("build-results", failure(error)); return; }
  startJob("/api/build", {...body, confirmed: true}, "build-results", $("run-build"));
});
$("run-proof").addEventListener("click", () => startJob("/api/proof", {}, "proof-results", $("run-proof")));

async function startJob(url, body, resultBox, button) {
  // The box says "Starting…" until the job's own progress (or its end) replaces it.
  await working(button, resultBox, "Starting…", async () => {
    try {
      const job = await call(url, body);
      if ($(resultBox).querySelector(".working")) show(resultBox);
      showJob(job);
    } catch (error) {
      show(resultBox, failure(error));
    }
  });
}

let lastFinished = 0;

function showJob(job) {
  if (!job) return;
  const running = job.state === "running" || job.state === "paused";
  const stage = job.stage ? job.stage + " " + job.done + " of " + job.total : "starting";
  $("job").textContent = running
    ? "The " + job.kind + " is " + job.state + ": " + stage + "."
    : "The last " + job.kind + " " + (job.state === "done" ? "finished" : "failed") +
      " in " + job.seconds + " s.";
  const bar = {build: "build-progress", proof: "proof-progress", send: "send-progress",
               "test send": "send-progress"}[job.kind];
  for (const id of ["build-progress", "proof-progress", "send-progress"]) $(id).hidden = id !== bar || !running;
  if (bar && job.total) { $(bar).max = job.total; $(bar).value = job.done; }
  $("pause-send").hidden = !(job.kind === "send" && job.state === "running");
  $("resume-send").hidden = !(job.kind === "send" && job.state === "paused");
  if (!running && job.number > lastFinished) {
    lastFinished = job.number;
    finished(job);
  }
}

function finished(job) {
  const r = job.result;
  const box = {build: "build-results", proof: "proof-results", send: "send-results",
               "test send": "test-results"}[job.kind];
  if (job.state === "failed") { show(box, el("p", {class: "bad"}, job.error)); return; }
  if (job.kind === "build") {
    show(box,
      el("p", {class: r.failed.length || r.held.length ? "bad" : "good"},
        "Built " + counted(r.built, "letter") + " in " + r.seconds + " s" +
        (r.unchanged ? "; " + r.unchanged + " were up to date" : "") +
        (r.failed.length ? "; " + r.failed.length + " failed:" : ". Next: make the proof.")),
      r.sent_again ? el("p", {class: r.differ.length ? "bad" : "good"},
        counted(r.sent_again, "letter") + " already sent built again: " + r.differ.length +
        (r.differ.length === 1 ? " differs" : " differ") + " from what was sent" +
        (r.differ.length ? " (" + r.differ.join(", ") + "): each goes as a correction once proofed and approved."
                         : " (they stay sent).")) : null,
      ...(r.notices || []).map((notice) => el("p", {class: "note"}, "Note: " + notice)),
      peopleList("Not built: a decision comes first", r.held, "bad"),
      peopleList("Not built", r.failed, "bad"));
  } else if (job.kind === "proof") {
    show(box,
      el("p", {class: r.problems.length ? "bad" : "good"},
        "Proof of " + counted(r.letters, "letter") + ": " +
        (r.problems.length ? r.problems.length + " failed a check." : "every check passed. Look through them below, then approve.")),
      peopleList("Failed a check", r.problems, "bad"),
      r.changes.length ? el("div", {class: "group"}, el("h4", {}, "Changes since last year"),
        el("ul", {}, r.changes.map((c) => el("li", {}, c)))) : null);
    $("proof-frame").src = "/proof/?v=" + Date.now() + (r.problems.length ? "#problems" : "");
    $("proof-frame").hidden = false;
  } else {
    const test = job.kind === "test send";
    show(box,
      el("p", {class: (r.failed.length || r.refused.length || r.deferred.length) ? "bad" : "good"},
        r.cancelled ? "Nothing was sent: what was queued changed since you confirmed. Show what would go again."
          : (test ? "Sent " + counted(r.sent.length, "test copy") + " to " + r.test_to + "."
                  : "Sent " + counted(r.sent.length, "message") + ".")),
      peopleList(test ? "Test copies of" : "Sent", r.sent),
      peopleList("Refused by the server", r.failed, "bad"),
      peopleList("Not accepted yet (try again later)", r.deferred, "bad"),
      peopleList("Stopped by the checks", r.refused, "bad"),
      peopleList("In doubt (the connection broke)", r.in_doubt, "bad"),
      peopleList("In doubt from an earlier send, settled by looking in the mailbox",
        (r.settled || []).map(([authority, went]) => ({authority,
          why: went ? "it had been sent" : "it had not been sent, so it was sent now"}))));
    focusResult($("run-send"), "send-results");
    focusResult($("run-test"), "test-results");
    $("run-send").hidden = true;
    $("run-test").hidden = true;
  }
  loadState();
  loadStatus();
}

function listen() {
  const source = new EventSource("/api/events");
  source.onmessage = (event) => { if (!stopped) showJob(JSON.parse(event.data)); };
  source.onerror = () => keepUp();  // the stream broke: is the desk still there?
}

// -- 6. approve, 7. queue and test send, 8. send -----------------------------------------

$("approve-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  show("approve-results", el("p", {class: "working", role: "status"}, "Approving…"));
  try {
    const r = await call("/api/approve", {by: $("approve-by").value, only: lines("approve-only"),
                                          despite_proof: $("approve-despite").value});
    const approved = r.approved.length + r.despite_proof.length;
    show("approve-results",
      el("p", {class: r.refused.length ? "bad" : "good"},
        "Approved " + counted(approved, "letter") +
        (r.already.length ? "; " + r.already.length + " already approved (kept as they were)" : "") +
        (r.refused.length ? "; " + r.refused.length + " not approved:" : ". Next: queue the emails.")),
      peopleList("Not approved", r.refused, "bad"));
    loadStatus();
  } catch (error) { show("approve-results", failure(error)); }
});

$("run-queue").addEventListener("click", async () => {
  show("queue-results", el("p", {class: "working", role: "status"}, "Making the emails…"));
  try {
    const r = await call("/api/queue", {corrections: lines("queue-corrections"), reason: $("queue-reason").value,
                                        note: $("queue-note").value, resends: lines("queue-resends")});
    show("queue-results",
      el("p", {class: r.skipped.length ? "bad" : "good"},
        "Queued " + counted(r.queued.length + r.corrections.length + r.resends.length, "email") +
        (r.corrections.length ? " (" + counted(r.corrections.length, "correction") + ")" : "") +
        (r.resends.length ? " (" + r.resends.length + " sent again: " + r.resends.join(", ") + ")" : "") +
        (r.already.length ? "; " + r.already.length + " were already queued or sent" : "") +
        (r.skipped.length ? "; " + r.skipped.length + " not queued:" : ". Next: a test send to yourself.")),
      peopleList("Not queued", r.skipped, "bad"));
    loadStatus();
  } catch (error) { show("queue-results", failure(error)); }
});

// What would go: a sentence (shown above the buttons), and the messages (below them, folded
// when there are many).
function planView(plan, test) {
  const rows = plan.messages.map((m) => el("tr", {},
    el("td", {}, m.authority),
    el("td", {}, m.recipients.join(", ")),
    el("td", {}, m.correction ? el("span", {class: "badge"}, "Correction") : "",
      m.correction ? " " + m.correction + (m.sent_before ? " (first sent " + m.sent_before + ")" : "") : "",
      !m.correction && m.resend ? [el("span", {class: "badge"}, "Re-send"), " the letter sent before, to a corrected address"] : "",
      !m.correction && !m.resend && m.retry ? [el("span", {class: "badge"}, "Retry"), " the server refused it before"] : "")));
  const kinds = [
    plan.corrections ? counted(plan.corrections, "correction") : "",
    plan.resends ? plan.resends + " re-sent to a corrected address" : "",
    plan.retries ? plan.retries + " sent again after failing" : "",
  ].filter(Boolean);
  const doubts = peopleList("In doubt from a send that was cut off (settle each in “A send that was cut off”, below)",
    plan.in_doubt, "bad");
  const summary = el("p", {class: "confirm"},
    test ? counted(plan.count, "test copy") + (plan.count === 1 ? " goes to " : " go to ") + plan.test_to + " only, each saying at its top where the real one goes."
         : counted(plan.count, "message") + (kinds.length ? " (" + kinds.join(", ") + ")" : "") +
           (plan.count === 1 ? " goes" : " go") + " from " + plan.sender + " through " + plan.server + ", at " + plan.rate + " a minute: " + duration(plan.minutes) + ".");
  if (!plan.count) return {summary: [summary, el("p", {}, "Nothing is queued and waiting.")], list: [doubts]};
  const table = scrollBox("The " + (test ? "copies" : "messages"), el("table", {class: "list"},
    el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "Council"), el("th", {scope: "col"}, "Real recipients"), el("th", {scope: "col"}, ""))),
    el("tbody", {}, rows)));
  return {summary: [summary], list: [folded("The " + counted(plan.count, test ? "copy" : "message"), plan.count, table), doubts]};
}

let testPlan = null;
$("test-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  show("test-plan-list");
  show("test-results");
  await working(event.submitter, "test-plan", "Working out what would go…", async () => {
    try {
      testPlan = await call("/api/send/plan", {test_to: $("test-to").value, only: lines("test-only")});
      const view = planView(testPlan, true);
      show("test-plan", view.summary);
      show("test-plan-list", view.list);
      $("run-test").hidden = !testPlan.count;
    } catch (error) { show("test-plan", failure(error)); }
  });
});

$("run-test").addEventListener("click", () => startJob("/api/send",
  {test_to: testPlan.test_to, only: lines("test-only"), expected: testPlan.count}, "test-results", $("run-test")));

let sendPlan = null;
$("plan-send").addEventListener("click", async () => {
  show("send-plan-list");
  show("send-results");  // the last send's list belongs to the last plan
  $("run-send").hidden = true;
  await working($("plan-send"), "send-plan", "Working out what would go, checking each message against its approval…", async () => {
    try {
      sendPlan = await call("/api/send/plan", {retry_failed: $("send-retry").checked});
      const view = planView(sendPlan, false);
      show("send-plan", view.summary);
      show("send-plan-list", view.list);
      $("run-send").hidden = !sendPlan.count;
      $("run-send").textContent = "Send " + counted(sendPlan.count, "message") + " now";
    } catch (error) { show("send-plan", failure(error)); }
  });
});

$("run-send").addEventListener("click", () => startJob("/api/send", {expected: sendPlan ? sendPlan.count : null, retry_failed: $("send-retry").checked}, "send-results", $("run-send")));

for (const outcome of ["sent", "retry"]) {
  $("settle-" + outcome).addEventListener("click", async () => {
    await working($("settle-" + outcome), "settle-results", "Settling…", async () => {
      try {
        const r = await call("/api/settle", {outcome, only: lines("settle-only")});
        show("settle-results", el("p", {class: "good"},
          r.settled.length ? "Settled " + counted(r.settled.length, "message") + ": " + r.settled.join(", ") + "."
                           : "No send was cut off" + (lines("settle-only").length ? " for the councils named" : "") + ": nothing to settle."));
        loadStatus();
      } catch (error) { show("settle-results", failure(error)); }
    });
  });
}
for (const [button, url, next] of [["pause-send", "/api/job/pause", ["paused", "resume-send"]],
                                   ["resume-send", "/api/job/resume", ["running", "pause-send"]]]) {
  $(button).addEventListener("click", async () => {
    try {
      const job = (await call(url, {})).job;
      focusResult($(button), job && job.state === next[0] ? next[1] : null);
      showJob(job);
    } catch (error) { show("send-results", failure(error)); }
  });
}

// -- 9. status -----------------------------------------------------------------------------

let statuses = [];
let meanings = {};

async function loadStatus() {
  try {
    const answer = await call("/api/status");
    statuses = answer.letters;
    const counts = Object.entries(answer.counts);
    const unknown = answer.unknown_because || [];
    showIfChanged("status-counts",
      unknown.length
        ? [el("p", {class: "bad"}, "Which letters are out of date cannot be told until the " +
             "inputs' problems are fixed (the Check step lists them):"), ...problemList(unknown)]
        : null,
      stateCounts(answer));
    const filter = $("status-filter");
    const chosen = filter.value;
    filter.replaceChildren(el("option", {value: ""}, "every letter"),
      ...counts.map(([state]) => el("option", {value: state}, state)));
    filter.value = chosen;
    show("moved-averages", (answer.moved_averages || []).map((m) => el("p", {class: m.decided ? "" : "bad"},
      m.text + (m.decided ? " Decided: " + m.decided + "."
        : " Keep as sent: the letters stay as sent and nothing goes again. Correct: " +
          counted(m.letters, "correction email") + ", each proofed and approved first."))));
    chooseDecisionTypes(answer.moved_averages || []);
    show("reworded", (answer.reworded || []).map((r) => el("p", {class: "bad"},
      r.text + " Keep as sent: wording only, nothing goes again. Correct: " + r.letters.length +
      " correction email" + (r.letters.length === 1 ? "" : "s") + ", each proofed and approved first.")));
    $("averages-form").hidden = !(answer.moved_averages || []).some((m) => !m.decided) &&
      !(answer.reworded || []).length;
    meanings = answer.meanings || {};
    $("came-back").textContent = answer.came_back ? answer.came_back + "." : "";
    historyChanged = true;
    drawStatus();
  } catch (error) { show("status-counts", failure(error)); }
}

// The council whose history is open under its row: kept open (and the focus kept on its
// button) when the list is drawn again, as it is whenever something changes.
let historyOpen = null;
// Whether the records changed since the open history was read (else, a new filter or search
// only: it is shown again as it is).
let historyChanged = false;

function drawStatus() {
  const state = $("status-filter").value;
  const search = $("status-search").value.toLowerCase();
  const shown = statuses.filter((s) => (!state || s.state === state) &&
                                       (!search || s.authority.toLowerCase().includes(search)));
  const list = $("status-list");
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.authority : null;
  const history = list.querySelector("tr.history-row");
  show(list, shown.map((s) => el("tr", {},
    el("td", {}, el("button", {type: "button", class: "link", "aria-expanded": "false",
                               "data-authority": s.authority,
                               onclick: (event) => toggleHistory(s.authority, event.currentTarget)}, s.authority)),
    el("td", {title: meanings[s.state] || ""}, s.state), el("td", {}, s.why), el("td", {}, s.proof),
    el("td", {}, nextStep(s.next)))));
  const button = (name) => [...list.querySelectorAll("button[data-authority]")]
    .find((b) => b.dataset.authority === name);
  if (historyOpen !== null) {
    const again = button(historyOpen);
    if (again) showHistory(historyOpen, again, history, historyChanged);
    else historyOpen = null;  // filtered out
  }
  historyChanged = false;
  if (focused) {
    const again = button(focused);
    if (again) again.focus();
  }
}

// A council's history opens in a row just under its own, where it was clicked; a second click
// closes it.
function toggleHistory(name, button) {
  const open = historyOpen === name;
  document.querySelectorAll("tr.history-row").forEach((r) => r.remove());
  document.querySelectorAll("#status-list button[aria-expanded=true]").forEach((b) => b.setAttribute("aria-expanded", "false"));
  historyOpen = null;
  if (!open) showHistory(name, button, null, true);
}

// Show the history (with `kept`, the row already shown, again; with `read`, read afresh).
async function showHistory(name, button, kept, read) {
  historyOpen = name;
  const row = kept || el("tr", {class: "history-row"},
    el("td", {colspan: "5"}, el("p", {class: "working", role: "status"}, "Reading the history…")));
  const cell = row.firstElementChild;
  button.closest("tr").after(row);
  button.setAttribute("aria-expanded", "true");
  if (kept && !read) return;  // shown again as it was: nothing changed since it was read
  try {
    const h = await call("/api/history", {name});
    if (historyOpen !== name || !row.isConnected) return;  // closed, or another opened, meanwhile
    const corrections = Object.fromEntries(h.messages.map((m) => [m.message_id, m.correction]));
    const lines = [
      ...h.approvals.map((a) => ({at: a.at, text: "approved by " + a.by +
                                  (a.despite_proof ? " despite the proof: " + a.despite_proof : "")})),
      ...h.events.map((e) => ({at: e.at, correction: corrections[e.message_id] || "",
                               text: e.what + (e.detail ? ": " + e.detail : "")})),
    ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    cell.replaceChildren(el("h3", {}, "History of " + h.authority),
      h.sent_to ? el("p", {class: "sent-to"}, "Last sent to " + h.sent_to +
        (h.sent_before ? " (earlier to " + h.sent_before + ")" : "") + ".") : null,
      el("ul", {class: "history"}, lines.map((line) => el("li", {},
        when(line.at) + " — ",
        line.correction ? [el("span", {class: "badge"}, "Correction"), " "] : null,
        line.text,
        line.correction && !line.text.includes(line.correction) ? " (why: " + line.correction + ")" : ""))));
  } catch (error) { if (row.isConnected) cell.replaceChildren(...failure(error)); }
}

$("averages-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const r = await call("/api/decide", {choice: event.submitter.value, by: $("averages-by").value,
                                         reason: $("decide-reason").value, type: $("decide-type").value});
    show("decide-results", el("p", {class: "good"}, "Recorded:"),
      el("ul", {}, r.decided.map((line) => el("li", {}, line[0].toUpperCase() + line.slice(1)))));
    focusResult(event.submitter, "decide-results");
    loadStatus();
  } catch (error) { show("decide-results", failure(error)); }
});

// A decision may be taken for one authority type at a time: the types whose averages wait.
function chooseDecisionTypes(moved) {
  const select = $("decide-type");
  const chosen = select.value;
  const types = [...new Set(moved.filter((m) => !m.decided).map((m) => m.type))].sort();
  select.replaceChildren(el("option", {value: ""}, "Every authority type"),
    ...types.map((type) => el("option", {value: type}, "Only the " + type + " letters")));
  select.value = types.includes(chosen) ? chosen : "";
}

$("run-delivery").addEventListener("click", async () => {
  await working($("run-delivery"), "delivery-results", "Reading the mailbox…", async () => {
    try {
      const r = await call("/api/delivery", {});
      show("delivery-results",
        el("p", {class: r.new.some((d) => d.why.startsWith("did not arrive")) ? "bad" : "good"},
          "Read " + counted(r.read, "message") + " in " + r.mailbox + ": " +
          counted(r.new.length, "new finding") + " about this year's letters" +
          (r.already ? "; " + r.already + " found before" : "") + "."),
        peopleList("New", r.new),
        peopleList("Matched no letter of this year (listed, not guessed)", r.unmatched, "bad"),
        peopleList("Could not be read", r.unreadable, "bad"));
      loadStatus();
    } catch (error) { show("delivery-results", failure(error)); }
  });
});

$("status-filter").addEventListener("change", drawStatus);
$("status-search").addEventListener("input", drawStatus);
$("refresh-status").addEventListener("click", loadStatus);

// -- for every member of staff (WCAG 2.2 AA) ----------------------------------------------

// A table wider than the page scrolls inside its own box; a box that scrolls can be reached by
// keyboard (to scroll it with the arrow keys) and says what it holds.
function scrollBox(label, table) {
  const box = el("div", {class: "table-box", "data-label": label}, table);
  watchScrolling(box);
  return box;
}

function watchScrolling(box) {
  const mark = () => {
    if (box.scrollWidth > box.clientWidth + 1) {
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", box.dataset.label + " (scrolls sideways)");
    } else {
      for (const name of ["tabindex", "role", "aria-label"]) box.removeAttribute(name);
    }
  };
  const observer = new ResizeObserver(mark);
  observer.observe(box);
  if (box.firstElementChild) observer.observe(box.firstElementChild);
}

// When the button pressed is disabled or hidden while its step works, focus goes to what the
// step says (or to the button that takes its place) instead of falling to the page.
function focusResult(button, target) {
  const into = typeof target === "string" ? $(target) : target;
  if (!button || !into || document.activeElement !== button) return;
  if (!into.matches("a[href], button, input, select, textarea, [tabindex]")) into.tabIndex = -1;
  into.hidden = false;
  into.focus();
}

// The counts (and the meaning of each state, in words) are announced when they change, and only
// then: a region redrawn with the same words says nothing again.
function showIfChanged(id, ...nodes) {
  const fresh = el("div", {}, nodes);
  if (fresh.textContent !== $(id).textContent || !$(id).firstChild) show(id, nodes);
}

function stateCounts(answer) {
  if (!answer.built) return el("p", {}, "No letters built yet.");
  return el("ul", {class: "states"}, Object.entries(answer.counts).map(([state, n]) =>
    el("li", {}, el("strong", {}, state + ": " + n),
      (answer.meanings || {})[state] ? " — " + answer.meanings[state] : "")));
}

// The page's title names the step the person went to (by the steps' list or a next-step link).
function titleForStep() {
  const section = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  const heading = section && section.tagName === "SECTION" ? section.querySelector("h2") : null;
  const step = heading ? heading.textContent.replace(/^\s*\d+\s*/, "").trim() : "";
  document.title = (step ? step + " — " : "") + "letter-merge desk";
}

// The header stays at the top on a wide page: whatever gets focus scrolls to just below it.
function padForHeader() {
  const header = document.querySelector("header");
  const sticky = getComputedStyle(header).position === "sticky";
  document.documentElement.style.scrollPaddingTop = sticky ? header.offsetHeight + 12 + "px" : "0px";
}

document.querySelectorAll(".table-box").forEach(watchScrolling);
new ResizeObserver(padForHeader).observe(document.querySelector("header"));
window.addEventListener("resize", padForHeader);
window.addEventListener("hashchange", titleForStep);
titleForStep();

// The record's version first, then what it says: a change made in between is shown at the
// next look.
keepUp().finally(() => {
  loadState();
  loadCouncils();
  loadStatus();
  listen();
});

// -- 10. publish ---------------------------------------------------------------------------

$("run-publish").addEventListener("click", async () => {
  const button = $("run-publish");
  await working(button, "publish-results", "Writing the publish folder…", async () => {
    try {
      const result = await call("/api/publish", {});
      show("publish-results",
        el("p", {class: result.embargoed ? "next" : "next good"},
          counted(result.published.length, "letter") + " in " + result.folder +
          ", each the PDF its council last received, with the map's data (" +
          result.files.filter((name) => !name.endsWith(".pdf")).join(", ") + "). " +
          (result.embargoed
            ? "Embargoed until " + result.publication_date + ": not for the website before then."
            : "For the website on " + result.publication_date + ": the web team uploads the folder.")),
        peopleList("Not published", result.left_out, "bad"));
    } catch (error) {
      show("publish-results", failure(error));
    }
  });
});
