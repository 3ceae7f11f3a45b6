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
  const answer = await fetch(url, options);
  const data = await answer.json();
  if (!answer.ok) throw data;
  return data;
}

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

function lines(id) {
  return $(id).value.split("\n").map((s) => s.trim()).filter(Boolean);
}

function failure(error) {
  const text = (error && error.error) || String(error);
  const nodes = [el("p", {class: "bad"}, text.split("\n")[0])];
  if (error && error.problems) nodes.push(...problemList(error.problems));
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

function peopleList(title, items, kind) {
  if (!items || !items.length) return null;
  return el("div", {class: "group " + (kind || "")},
    el("h4", {}, title + " (" + items.length + ")"),
    el("ul", {}, items.map((item) => typeof item === "string"
      ? el("li", {}, item)
      : el("li", {}, el("strong", {}, item.authority), ": ", item.why))));
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
  const before = await call("/api/state");
  const template = before.files.find((f) => f.label === "Letter template");
  $("preview-state").textContent = "Making " + name + "'s letter…";
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
  } catch (error) {
    previewed = null;
    show("preview-state", failure(error));
  }
}

// -- 4. build, 5. proof: jobs ------------------------------------------------------------------

$("run-build").addEventListener("click", () => startJob("/api/build", {only: lines("build-only")}, "build-results"));
$("run-proof").addEventListener("click", () => startJob("/api/proof", {}, "proof-results"));

async function startJob(url, body, resultBox) {
  try {
    showJob(await call(url, body));
  } catch (error) {
    show(resultBox, failure(error));
  }
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
      el("p", {class: r.failed.length ? "bad" : "good"},
        "Built " + counted(r.built, "letter") + " in " + r.seconds + " s" +
        (r.unchanged ? "; " + r.unchanged + " were up to date" : "") +
        (r.failed.length ? "; " + r.failed.length + " failed:" : ". Next: make the proof.")),
      ...(r.notices || []).map((notice) => el("p", {class: "note"}, "Note: " + notice)),
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
      peopleList("In doubt (the connection broke)", r.in_doubt, "bad"));
    $("run-send").hidden = true;
    $("run-test").hidden = true;
  }
  loadState();
  loadStatus();
}

function listen() {
  const source = new EventSource("/api/events");
  source.onmessage = (event) => showJob(JSON.parse(event.data));
}

// -- 6. approve, 7. queue and test send, 8. send -----------------------------------------

$("approve-form").addEventListener("submit", async (event) => {
  event.preventDefault();
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
  try {
    const r = await call("/api/queue", {corrections: lines("queue-corrections"), reason: $("queue-reason").value});
    show("queue-results",
      el("p", {class: r.skipped.length ? "bad" : "good"},
        "Queued " + (r.queued.length + r.corrections.length) + " emails" +
        (r.corrections.length ? " (" + r.corrections.length + " corrections)" : "") +
        (r.already.length ? "; " + r.already.length + " were already queued or sent" : "") +
        (r.skipped.length ? "; " + r.skipped.length + " not queued:" : ". Next: a test send to yourself.")),
      peopleList("Not queued", r.skipped, "bad"));
    loadStatus();
  } catch (error) { show("queue-results", failure(error)); }
});

function planView(plan, test) {
  const rows = plan.messages.map((m) => el("tr", {},
    el("td", {}, m.authority),
    el("td", {}, m.recipients.join(", ")),
    el("td", {}, m.correction ? "correction: " + m.correction + (m.sent_before ? " (first sent " + m.sent_before + ")" : "") : "")));
  return [
    el("p", {class: "confirm"},
      (test ? counted(plan.count, "test copy") + (plan.count === 1 ? " goes to " : " go to ") + plan.test_to + " only, each saying at its top where the real one goes."
            : counted(plan.count, "message") + (plan.corrections ? " (" + counted(plan.corrections, "correction") + ")" : "") +
              " go from " + plan.sender + " through " + plan.server +
              ", at " + plan.rate + " a minute: " + duration(plan.minutes) + ".")),
    plan.count ? el("table", {class: "list"},
      el("thead", {}, el("tr", {}, el("th", {scope: "col"}, "Council"), el("th", {scope: "col"}, "Real recipients"), el("th", {scope: "col"}, ""))),
      el("tbody", {}, rows)) : el("p", {}, "Nothing is queued and waiting."),
  ];
}

let testPlan = null;
$("test-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    testPlan = await call("/api/send/plan", {test_to: $("test-to").value, only: lines("test-only")});
    show("test-plan", planView(testPlan, true));
    $("run-test").hidden = !testPlan.count;
  } catch (error) { show("test-plan", failure(error)); }
});

$("run-test").addEventListener("click", () => startJob("/api/send",
  {test_to: testPlan.test_to, only: lines("test-only"), expected: testPlan.count}, "test-results"));

let sendPlan = null;
$("plan-send").addEventListener("click", async () => {
  try {
    sendPlan = await call("/api/send/plan", {});
    show("send-plan", planView(sendPlan, false));
    $("run-send").hidden = !sendPlan.count;
    $("run-send").textContent = "Send " + counted(sendPlan.count, "message") + " now";
  } catch (error) { show("send-plan", failure(error)); }
});

$("run-send").addEventListener("click", () => startJob("/api/send", {expected: sendPlan.count}, "send-results"));
$("pause-send").addEventListener("click", async () => showJob((await call("/api/job/pause", {})).job));
$("resume-send").addEventListener("click", async () => showJob((await call("/api/job/resume", {})).job));

// -- 9. status -----------------------------------------------------------------------------

let statuses = [];
let meanings = {};

async function loadStatus() {
  try {
    const answer = await call("/api/status");
    statuses = answer.letters;
    const counts = Object.entries(answer.counts);
    $("status-counts").textContent = counts.length
      ? counts.map(([state, n]) => state + ": " + n).join(" · ")
      : "No letters built yet.";
    const filter = $("status-filter");
    const chosen = filter.value;
    filter.replaceChildren(el("option", {value: ""}, "every letter"),
      ...counts.map(([state]) => el("option", {value: state}, state)));
    filter.value = chosen;
    show("moved-averages", (answer.moved_averages || []).map((m) => el("p", {class: m.decided ? "" : "bad"},
      m.text + (m.decided ? " Decided: " + m.decided + "." : ""))));
    $("averages-form").hidden = !(answer.moved_averages || []).some((m) => !m.decided);
    meanings = answer.meanings || {};
    drawStatus();
  } catch (error) { show("status-counts", failure(error)); }
}

function drawStatus() {
  const state = $("status-filter").value;
  const search = $("status-search").value.toLowerCase();
  const shown = statuses.filter((s) => (!state || s.state === state) &&
                                       (!search || s.authority.toLowerCase().includes(search)));
  show("status-list", shown.map((s) => el("tr", {},
    el("td", {}, el("button", {type: "button", class: "link", onclick: () => loadHistory(s.authority)}, s.authority)),
    el("td", {title: meanings[s.state] || ""}, s.state), el("td", {}, s.why), el("td", {}, s.proof),
    el("td", {}, s.next))));
}

async function loadHistory(name) {
  try {
    const h = await call("/api/history", {name});
    const lines = [
      ...h.approvals.map((a) => ({at: a.at, text: "approved by " + a.by +
                                  (a.despite_proof ? " despite the proof: " + a.despite_proof : "")})),
      ...h.events.map((e) => ({at: e.at, text: e.what + (e.detail ? ": " + e.detail : "")})),
    ].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    show("history", el("h3", {}, h.authority),
      el("ul", {}, lines.map((line) => el("li", {}, when(line.at) + " — " + line.text))));
  } catch (error) { show("history", failure(error)); }
}

$("averages-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const r = await call("/api/averages", {choice: event.submitter.value, by: $("averages-by").value});
    show("moved-averages", r.decided.map((line) => el("p", {}, line)));
    loadStatus();
  } catch (error) { show("moved-averages", failure(error)); }
});

$("status-filter").addEventListener("change", drawStatus);
$("status-search").addEventListener("input", drawStatus);
$("refresh-status").addEventListener("click", loadStatus);

loadState();
loadCouncils();
loadStatus();
listen();
