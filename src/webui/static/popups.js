// Compartment popups: the Tests results card, desired vs actual for the others, a host's history.
import { runOperation, stopHost } from "./actions.js";
import { appendAnsi } from "./ansi.js";
import { api } from "./api.js";
import { blockedReason } from "./availability.js";
import { ago, classification, commandState, el, formatDuration, icon, operation, outcome, parseTime, short, status, statusWord } from "./dom.js";
import { metricsRows } from "./hostmetrics.js";
import { showOutput } from "./logpanel.js";
import { openHostSettings } from "./settings.js";
import { state } from "./state.js";
import { LABELS, compartmentStatus, compartments, tooltipFor } from "./table.js";
import { toast } from "./toasts.js";

let open = null; // { host, kind, runId }
const runs = new Map(); // finished test runs by id; they never change
const MARKS = { passed: "✓", failed: "✗", timed_out: "✗", error: "✗", not_run: "–" };
const histories = new Map(); // "host\nrun id" -> each case's summary and recent results (null while loading)
const HISTORY_MARKS = 10; // results shown per case, oldest first
const BADGES = {
  flaky: "Passed and failed on this generation: the deployment is not to blame",
  regression: "Passed on the previous generation, fails on this one: introduced by this deployment",
  broken: "Failed on every generation since it appeared",
  failing: "Failing since an earlier generation",
};

const dialog = () => document.getElementById("popup");

export function openPopup(host, kind, { runId = null } = {}) {
  open = { host, kind, runId };
  render();
  if (!dialog().open) dialog().showModal();
  // Every open asks again: the desired state changes (CI sets it) without any event for it.
  if (kind !== "tests" && kind !== "history") loadDesired();
  if (kind === "agent") loadMetrics(host);
}

// Metrics change with every heartbeat without an event for them: the Agent card asks on opening.
const fresh = new Map(); // host name -> the host as GET /api/hosts/<name> answered
async function loadMetrics(name) {
  const asked = open;
  try {
    fresh.set(name, await api.host(name));
    if (open && open === asked) render();
  } catch {
    // the card shows the metrics the last event carried
  }
}

export function closePopup() {
  open = null;
  if (dialog().open) dialog().close();
}

export function refreshPopup(hostName) {
  if (open && open.host === hostName && dialog().open && open.kind !== "history") render();
}

async function loadDesired() {
  const asked = open;
  try {
    state.desired = (await api.settings()).desired_state;
    if (open && open === asked) render();
  } catch {
    // the popup still shows what the host reported
  }
}

function button(label, action, { primary = false, danger = false, iconName = null, disabled = false, title = null } = {}) {
  const cls = `btn ${primary ? "btn--primary" : ""} ${danger ? "btn--danger" : ""}`.trim();
  return el("button", { class: cls, type: "button", "data-popup-action": action, disabled, title }, iconName ? icon(iconName) : null, label);
}

function frame(host, title, st, message, ...body) {
  const d = dialog();
  d.dataset.kind = open.kind;
  d.dataset.host = host;
  const parts = [
    el("header", { class: "popup__head" }, el("h2", { text: title }), el("button", { class: "popup__x", type: "button", "data-popup-action": "close", "aria-label": "Close this card" }, "×")),
    st ? el("div", { class: `popup__status popup__status--${st}`, "data-status": st }, el("span", { class: "popup__badge", text: statusWord(st, open.kind) }), el("span", { text: message })) : null,
    ...body,
  ];
  d.replaceChildren(...parts.filter(Boolean));
}

function render() {
  const host = state.hosts.get(open.host);
  if (!host) {
    frame(open.host, open.host, null, "", el("p", { text: "This host is no longer part of the fleet." }), el("footer", { class: "dialog__buttons" }, button("Close", "close")));
    return;
  }
  if (open.kind === "tests") renderTests(host);
  else if (open.kind === "history") renderHistory(host);
  else renderCompartment(host, open.kind);
}

// --- Tests -------------------------------------------------------------------------------------

function renderTests(host) {
  const ts = host.test_status || {};
  const st = compartmentStatus(host, "tests");
  const runId = open.runId || ts.last_run_id;
  const viewingOld = Boolean(open.runId) && open.runId !== ts.last_run_id;
  const body = [];
  if (st === "working" && !viewingOld) {
    const pct = ts.total ? Math.round((100 * ts.completed) / ts.total) : 0;
    body.push(
      el("div", { class: "progress" }, el("div", { class: "progress__text", text: `Running ${ts.completed}/${ts.total || "?"}${ts.current_case ? ` — ${ts.current_case}` : ""}` }), el("progress", { max: 100, value: pct })),
    );
  }
  if (st === "outdated" && !viewingOld) {
    body.push(el("div", { class: "run-prompt" }, el("span", { text: "Run tests to verify system" }), button("Run tests", "run-tests", { primary: true, iconName: "play", disabled: !host.online || Boolean(host.running_command_id) })));
  }
  const running = st === "working" && !viewingOld;
  const run = runId && !running ? runs.get(runId) : null;
  if (running) {
    // progress above; the run's record is complete only once it has finished
  } else if (runId && !run) {
    body.push(el("p", { class: "muted", text: "Loading results…" }));
    fetchRun(runId);
  } else if (run) {
    if (viewingOld || st === "outdated") body.push(el("p", { class: "muted", text: `Results of ${viewingOld ? "an earlier run" : "the previous run"} (${run.generation || "unknown generation"}):` }));
    const history = histories.get(`${host.name}\n${run.id}`);
    if (history === undefined) fetchHistory(host.name, run.id);
    if (run.offer?.advice) body.push(el("p", { class: "advice", "data-advice": "", text: run.offer.advice }));
    body.push(casesList(run, history), ...runSummary(run));
  } else if (st !== "disabled") {
    body.push(el("p", { class: "muted", text: "No test run recorded yet." }));
  }
  const footer = el("footer", { class: "dialog__buttons" });
  if (st === "working" && !viewingOld) {
    footer.append(button("View Live Output", "live-output", { iconName: "terminal" }), button("Stop", "stop", { danger: true, iconName: "stop" }));
  } else if (st === "disabled" && !run) {
    footer.append(button("Test Settings", "settings", { iconName: "settings" }));
  } else {
    footer.append(button("View Full Output", "view-output", { iconName: "terminal", disabled: !runId }));
    if (run) footer.append(el("a", { class: "btn", href: `/api/test-runs/${encodeURIComponent(run.id)}/junit.xml`, download: `${host.name}-${run.id}.xml`, "data-junit": run.id, title: "Download this run as JUnit XML" }, "JUnit XML"));
    const blocked = (action) => {
      const reason = blockedReason(host, action);
      return { disabled: reason !== "", title: reason || null };
    };
    const rollback = button("Rollback", "rollback", { danger: st === "error", iconName: "rollback", ...blocked("rollback") });
    // The offer's order is the control plane's: a regression offers the rollback first, a flaky failure a new run.
    if (run?.offer?.operations?.[0] === "test") footer.append(button("Run again", "run-tests", { primary: true, iconName: "play", ...blocked("test") }), rollback);
    else footer.append(rollback);
  }
  footer.append(button("Close", "close"));
  frame(host.name, `${host.name} - Test Results`, st, tooltipFor(host, "tests"), ...body, footer);
}

async function fetchRun(runId) {
  try {
    const run = await api.testRun(runId);
    const finished = ["TEST_STATE_PASSED", "TEST_STATE_FAILED", "TEST_STATE_CANCELLED"].includes(run.state);
    if (finished) runs.set(runId, run);
    if (open && open.kind === "tests" && (open.runId || state.hosts.get(open.host)?.test_status?.last_run_id) === runId) {
      if (!finished) runs.set(runId, run);
      render();
      if (!finished) runs.delete(runId);
    }
  } catch (error) {
    if (open && open.kind === "tests") {
      const list = dialog().querySelector(".muted");
      if (list) list.textContent = error.message;
    }
  }
}

async function fetchHistory(hostName, runId) {
  const key = `${hostName}\n${runId}`;
  histories.set(key, null);
  try {
    const [summaries, testRuns] = await Promise.all([api.caseSummaries(hostName), api.testRuns(hostName)]);
    const results = new Map(); // case name -> its results, newest first
    for (const r of testRuns.runs || []) {
      for (const c of r.cases || []) {
        const o = outcome(c.outcome);
        if (o === "not_run") continue;
        if (!results.has(c.name)) results.set(c.name, []);
        results.get(c.name).push({ outcome: o, classification: classification(c.classification), generation: r.generation });
      }
    }
    histories.set(key, { summaries: new Map((summaries.summaries || []).map((s) => [s.name, s])), results });
  } catch {
    histories.delete(key); // the results still show; the next render asks again
    return;
  }
  if (open && open.kind === "tests" && open.host === hostName) render();
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function caseHistory(name, history) {
  const summary = history.summaries.get(name);
  const results = (history.results.get(name) || []).slice(0, HISTORY_MARKS).reverse();
  const marks = el("span", { class: "case-history__marks", "aria-label": `last ${results.length} results, oldest first` });
  for (const r of results) {
    const cls = r.classification !== "unspecified" && r.classification !== "passed" ? `, ${r.classification}` : "";
    marks.append(el("span", { class: `hist hist--${r.outcome === "passed" ? "passed" : "failed"}`, title: `${r.generation || "unknown generation"}: ${r.outcome}${cls}`, text: r.outcome === "passed" ? "✓" : "✗" }));
  }
  const words = [];
  if (summary) {
    if (summary.failing_runs) words.push(`failing since ${summary.failing_since_generation || "an unknown generation"}, ${plural(summary.failing_runs, "run")}`);
    words.push(summary.last_pass_generation ? `last passed on ${summary.last_pass_generation} ${ago(summary.last_pass_at)}` : "never passed");
    if (summary.retained_runs) words.push(`${summary.retained_passes}/${summary.retained_runs} passed`);
  }
  return el("li", { class: "case-history", "data-case-history": name }, marks, el("span", { class: "case-history__text", text: words.join(" · ") }));
}

function casesList(run, history) {
  const list = el("ul", { class: "cases" });
  for (const c of run.cases || []) {
    const o = outcome(c.outcome);
    const failed = o !== "passed" && o !== "not_run";
    const cls = classification(c.classification);
    const item = el(
      "li",
      { class: `case case--${o}`, "data-outcome": o, "data-case": c.name },
      el("span", { class: "case__mark", "aria-hidden": "true", text: MARKS[o] || "?" }),
      el("span", { class: "case__name", text: c.name }),
      failed ? el("span", { class: "case__tag", text: o === "timed_out" ? "TIMED OUT" : o === "error" ? "ERROR" : "FAILED" }) : null,
      BADGES[cls] ? el("span", { class: `case__badge case__badge--${cls}`, "data-classification": cls, title: BADGES[cls], text: cls.toUpperCase() }) : null,
      el("span", { class: "case__time", text: c.duration ? formatDuration(c.duration) : "" }),
    );
    list.append(item);
    if (history) list.append(caseHistory(c.name, history));
    for (const sub of c.sub_cases || []) {
      const so = outcome(sub.outcome);
      list.append(el("li", { class: `case case--sub case--${so}`, "data-sub-case": sub.name, "data-outcome": so }, el("span", { class: "case__mark", "aria-hidden": "true", text: MARKS[so] || "?" }), el("span", { class: "case__name", text: `${sub.classname ? `${sub.classname}.` : ""}${sub.name}` }), el("span", { class: "case__time", text: sub.message || "" })));
    }
    if (c.message) list.append(el("li", { class: "case-message", text: c.message }));
    if (failed && c.output) {
      const lines = c.output.replace(/\s+$/, "").split("\n");
      const tail = lines.length > 30 ? ["…", ...lines.slice(-30)].join("\n") : lines.join("\n");
      list.append(el("li", { class: "case-output" }, appendAnsi(el("pre"), tail)));
    }
  }
  return list;
}

function runSummary(run) {
  const when = parseTime(run.finished_at) ? `finished ${ago(run.finished_at)}` : "running";
  return [
    el("p", { class: "summary", "data-summary": "", text: `${run.passed}/${run.total} tests passed` }),
    el("p", { class: "meta", text: `Run time: ${formatDuration(run.duration)}` }),
    el("p", { class: "meta muted", text: [when, run.generation, run.commit ? `commit ${short(run.commit)}` : null, run.trigger === "TEST_TRIGGER_AFTER_SWITCH" ? "after switch" : "manual"].filter(Boolean).join(" · ") }),
  ];
}

// --- Agent, Git, Lock, System -------------------------------------------------------------------

function lastOp(op) {
  if (!op || !op.command_id) return "none recorded";
  const st = commandState(op.state).replace("_", " ");
  return `${st}${op.exit_code !== undefined ? ` (exit ${op.exit_code})` : ""} · ${ago(op.finished_at)}`;
}

function facts(rows) {
  const dl = el("dl", { class: "facts" });
  for (const [label, value, cls] of rows) dl.append(el("dt", { text: label }), el("dd", { class: cls || "", text: value || "–" }));
  return dl;
}

function renderCompartment(host, kind) {
  const c = compartments(host)[kind] || {};
  const st = compartmentStatus(host, kind);
  const f = host.facts || {};
  const desired = state.desired || {};
  const running = Boolean(host.running_command_id);
  const offline = !host.online;
  const busyTitle = offline ? `${host.name} is offline` : running ? "A command is running" : null;
  let rows = [];
  const fixes = [];
  if (kind === "agent") {
    rows = [
      ["Reported version", f.agent_version, "mono"],
      ["Expected version", desired.agent_version || "the control plane's own version", "mono"],
      ["OS", f.os],
      ["Connected", host.online ? "online" : `offline · last seen ${ago(host.last_seen)}`],
      ["Registered", ago(host.registered_at)],
      ...metricsRows(fresh.get(host.name)?.metrics || host.metrics),
    ];
    if (st === "outdated") fixes.push(el("p", { class: "hint", text: "Update the fleetdeck package on the host; the agent reports its new version when it reconnects." }));
  } else if (kind === "git" || kind === "lock") {
    const [want, have] = kind === "git" ? [desired.commit, f.commit] : [desired.lock_hash, f.lock_hash];
    rows = [
      [kind === "git" ? "Desired commit" : "Desired flake.lock", want || "not set", "mono"],
      [kind === "git" ? "Host commit" : "Host flake.lock", have || "not reported", `mono ${want && have && want !== have ? "differs" : ""}`],
      ["Last pull", lastOp(host.last_pull)],
    ];
    if (st === "outdated" || st === "error") fixes.push(button("Pull", "pull", { primary: true, iconName: "pull", disabled: offline || running, title: busyTitle }));
  } else {
    rows = [
      ["Deployed generation", f.generation, "mono"],
      ["Last switch", lastOp(host.last_switch)],
      ["Last pull", lastOp(host.last_pull)],
      ["Last rollback", lastOp(host.last_rollback)],
      ["Rollback returns to", f.previous_generation || (f.at_first_generation ? "nothing: this is the first generation" : "unknown"), "mono"],
      ["Git / Lock", `${statusWord(compartmentStatus(host, "git"), "git")} / ${statusWord(compartmentStatus(host, "lock"), "lock")}`],
    ];
    const upstream = ["git", "lock"].some((k) => ["outdated", "error"].includes(compartmentStatus(host, k)));
    if ((st === "outdated" || st === "error") && upstream) fixes.push(button("Pull", "pull", { primary: true, iconName: "pull", disabled: offline || running, title: busyTitle }));
    if (st === "outdated" || st === "error") fixes.push(button("Switch", "switch", { primary: !upstream, iconName: "switch", disabled: offline || running, title: busyTitle }));
    if (host.last_switch?.command_id) fixes.push(button("Switch Output", "switch-output", { iconName: "terminal" }));
  }
  const footer = el("footer", { class: "dialog__buttons" }, ...fixes.filter((x) => x.tagName === "BUTTON"));
  if (st === "working" && running) footer.append(button("View Live Output", "live-output", { iconName: "terminal" }), button("Stop", "stop", { danger: true, iconName: "stop" }));
  footer.append(button("Close", "close"));
  const since = parseTime(c.since) ? ` (since ${ago(c.since)})` : "";
  frame(host.name, `${host.name} - ${LABELS[kind]}`, st, `${c.message || "no signal yet"}${since}`, facts(rows), ...fixes.filter((x) => x.tagName !== "BUTTON"), footer);
}

// --- History --------------------------------------------------------------------------------------

export function openHistory(hostName) {
  open = { host: hostName, kind: "history", runId: null };
  frame(hostName, `${hostName} - History`, null, "", el("p", { class: "muted", text: "Loading…" }), el("footer", { class: "dialog__buttons" }, button("Close", "close")));
  if (!dialog().open) dialog().showModal();
  Promise.all([api.commands(hostName), api.testRuns(hostName)]).then(
    ([commands, testRuns]) => {
      if (!open || open.kind !== "history" || open.host !== hostName) return;
      const table = el("table", { class: "history" }, el("thead", {}, el("tr", {}, ...["Operation", "State", "Exit", "When", "By", ""].map((t) => el("th", { text: t })))));
      const body = el("tbody");
      for (const c of commands.commands || []) {
        const st = commandState(c.state);
        const testRun = operation(c.operation) === "test" && ["succeeded", "failed"].includes(st);
        body.append(
          el(
            "tr",
            {},
            el("td", { text: operation(c.operation) }),
            el("td", {}, el("span", { class: `state state--${st}`, text: st.replace("_", " ") })),
            el("td", { text: ["succeeded", "failed"].includes(st) ? String(c.exit_code) : "" }),
            el("td", { text: ago(c.finished_at || c.started_at || c.created_at) }),
            el("td", { class: "history__by", text: c.requested_by || "" }),
            el(
              "td",
              { class: "history__buttons" },
              el("button", { class: "btn btn--small", type: "button", "data-popup-action": "output", "data-command": c.id, "data-op": operation(c.operation) }, "Output"),
              testRun ? el("button", { class: "btn btn--small", type: "button", "data-popup-action": "results", "data-run": c.id }, "Results") : null,
            ),
          ),
        );
      }
      table.append(body);
      const nRuns = (testRuns.runs || []).length;
      frame(hostName, `${hostName} - History`, null, "", (commands.commands || []).length ? table : el("p", { class: "muted", text: "No commands yet." }), el("p", { class: "muted", text: `${nRuns} test run${nRuns === 1 ? "" : "s"} recorded.` }), el("footer", { class: "dialog__buttons" }, button("Close", "close")));
    },
    (error) => toast(error.message, { tone: "error" }),
  );
}

// --- Clicks -----------------------------------------------------------------------------------------

export function onPopupClick(event) {
  const target = event.target.closest("[data-popup-action]");
  if (!target || !open) return;
  const host = state.hosts.get(open.host);
  const name = open.host;
  const action = target.dataset.popupAction;
  const ts = host?.test_status || {};
  switch (action) {
    case "close":
      closePopup();
      break;
    case "run-tests":
      runOperation([name], "test");
      break;
    case "pull":
    case "switch":
      closePopup();
      runOperation([name], action);
      break;
    case "rollback":
      runOperation([name], "rollback").then(() => closePopup());
      break;
    case "stop":
      stopHost(name);
      break;
    case "view-output": {
      const runId = open.runId || ts.last_run_id;
      closePopup();
      showOutput(runId, { host: name, op: "test" });
      break;
    }
    case "live-output":
      closePopup();
      if (host?.running_command_id) showOutput(host.running_command_id, { host: name, op: operation(host.running_operation) });
      break;
    case "switch-output":
      closePopup();
      showOutput(host.last_switch.command_id, { host: name, op: "switch" });
      break;
    case "output":
      closePopup();
      showOutput(target.dataset.command, { host: name, op: target.dataset.op });
      break;
    case "results":
      openPopup(name, "tests", { runId: target.dataset.run });
      break;
    case "settings":
      closePopup();
      openHostSettings(name);
      break;
    default:
      break;
  }
}

export function initPopups() {
  const d = dialog();
  d.addEventListener("click", onPopupClick);
  d.addEventListener("close", () => {
    open = null;
  });
  // A click on the backdrop (outside the card) closes it.
  d.addEventListener("mousedown", (event) => {
    if (event.target !== d) return;
    const r = d.getBoundingClientRect();
    const inside = event.clientX >= r.left && event.clientX <= r.right && event.clientY >= r.top && event.clientY <= r.bottom;
    if (!inside) closePopup();
  });
}

export const popupState = () => open;
export { status };
