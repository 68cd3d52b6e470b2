// The host table: one row per host, five compartment buttons, per-host actions.
import { blockedReason, bulkBlockedReason } from "./availability.js";
import { ago, clear, el, icon, kind, parseTime, short, status, statusWord } from "./dom.js";
import { metricsHint } from "./hostmetrics.js";
import { state } from "./state.js";
import { insertionPoint, matches, ordered } from "./view.js";

export const KINDS = ["agent", "git", "lock", "system", "tests"];
export const LABELS = { agent: "Agent", git: "Git", lock: "Lock", system: "System", tests: "Tests" };
const ACTIONS = [
  ["pull", "Pull", "pull"],
  ["switch", "Switch", "switch"],
  ["test", "Test", "play"],
  ["rollback", "Rollback", "rollback"],
  ["stop", "Stop", "stop"],
];

export function compartments(host) {
  const byKind = {};
  for (const c of host.compartments || []) byKind[kind(c.kind)] = c;
  return byKind;
}

export function compartmentStatus(host, k) {
  const c = compartments(host)[k];
  return c ? status(c.status) : "unknown";
}

// The hover text: the server's sentence, or for Tests "Last test: 2 min ago (8/8 passed)".
export function tooltipFor(host, k) {
  const c = compartments(host)[k];
  if (!c) return `${LABELS[k]}: no signal yet`;
  const st = status(c.status);
  const ts = host.test_status || {};
  if (k === "tests" && (st === "ok" || st === "error") && parseTime(ts.last_run_at)) {
    return `Last test: ${ago(ts.last_run_at)} (${ts.passed}/${ts.total} passed)`;
  }
  if (k === "tests" && st === "working") {
    const current = ts.current_case ? ` — running ${ts.current_case}` : "";
    return `Tests running: ${ts.completed}/${ts.total || "?"}${current}`;
  }
  const since = parseTime(c.since) && st !== "unknown" ? ` (${ago(c.since)})` : "";
  return `${c.message || `${LABELS[k]}: ${statusWord(st, k)}`}${since}`;
}

function caption(host, k, st) {
  const f = host.facts || {};
  const ts = host.test_status || {};
  switch (k) {
    case "agent":
      return f.agent_version ? (f.agent_version.startsWith("v") ? f.agent_version : `v${f.agent_version}`) : "–";
    case "git":
      return short(f.commit);
    case "lock":
      return short(f.lock_hash);
    case "system": {
      const m = /(\d+)/.exec(f.generation || "");
      return m ? `gen ${m[1]}` : f.generation ? short(f.generation, 10) : "–";
    }
    default:
      if (st === "working") return `${ts.completed}/${ts.total || "?"}`;
      if (st === "ok" || st === "error") return `${ts.passed}/${ts.total}`;
      if (st === "disabled") return "off";
      if (st === "outdated") return "not run";
      return "–";
  }
}

function buildRow(name) {
  const row = el("tr", { class: "host-row", "data-host": name });
  row.append(
    el("td", { class: "sel" }, el("input", { type: "checkbox", "data-select": name, "aria-label": `Select ${name}` })),
    el(
      "td",
      { class: "host" },
      el("div", { class: "host__name" }, el("span", { class: "online-dot" }), el("span", { class: "name", text: name })),
      el("div", { class: "host__meta" }),
      el("div", { class: "host__metrics" }),
    ),
  );
  for (const k of KINDS) {
    const button = el(
      "button",
      { class: "comp", type: "button", "data-compartment": k, "data-status": "unknown", "data-host": name },
      icon(k, "comp__icon"),
      el("span", { class: "comp__text" }, el("span", { class: "comp__label", text: LABELS[k] }), el("span", { class: "comp__caption" })),
      el("span", { class: "comp__dot" }),
    );
    const cell = el("td", { class: `comp-cell comp-cell--${k}` }, button);
    if (k === "tests") {
      cell.append(
        el("button", { class: "prompt", type: "button", "data-action": "test", "data-host": name, hidden: true }, icon("play"), "Run tests to verify system"),
      );
    }
    row.append(cell);
  }
  const actions = el("td", { class: "actions" });
  for (const [action, label, iconName] of ACTIONS) {
    actions.append(el("button", { class: `btn btn--small btn--${action}`, type: "button", "data-action": action, "data-host": name }, icon(iconName), label));
  }
  actions.append(
    el("button", { class: "btn btn--small btn--ghost", type: "button", "data-action": "history", "data-host": name, title: "Past commands and test runs", "aria-label": `History of ${name}` }, icon("history")),
    el("button", { class: "btn btn--small btn--ghost", type: "button", "data-action": "settings", "data-host": name, title: "Test settings", "aria-label": `Settings of ${name}` }, icon("settings")),
  );
  row.append(actions);
  return row;
}

function seenText(host, now = Date.now()) {
  const facts = host.facts || {};
  // Online means heartbeats arrive (offline after three missed ones); only an offline host's
  // last-seen time says something, and it ages here from the value its offline event carried.
  const seen = host.online ? "online" : `offline · last seen ${ago(host.last_seen, now)}`;
  return [facts.os, seen].filter(Boolean).join(" · ");
}

function updateRow(row, host) {
  row.classList.toggle("host-row--offline", !host.online);
  row.querySelector("[data-select]").checked = state.selected.has(host.name);
  row.querySelector(".online-dot").dataset.online = host.online ? "yes" : "no";
  row.querySelector(".host__meta").textContent = seenText(host);
  row.dataset.rollout = host.rollout_id || ""; // a host in a rollout says so (style.css badges it)
  row.querySelector(".host__metrics").textContent = host.online ? metricsHint(host.metrics) : "";
  for (const k of KINDS) {
    const st = compartmentStatus(host, k);
    const button = row.querySelector(`[data-compartment="${k}"]`);
    button.dataset.status = st;
    button.className = `comp comp--${st}`;
    const tip = tooltipFor(host, k);
    button.dataset.tooltip = tip;
    button.setAttribute("aria-label", `${LABELS[k]}: ${tip}`);
    button.querySelector(".comp__caption").textContent = caption(host, k, st);
  }
  const running = Boolean(host.running_command_id);
  const testsOutdated = compartmentStatus(host, "tests") === "outdated";
  row.querySelector(".prompt").hidden = !(testsOutdated && host.online && !running);
  for (const button of row.querySelectorAll(".actions [data-action]")) {
    const action = button.dataset.action;
    if (action === "history" || action === "settings") continue;
    const reason = blockedReason(host, action);
    button.disabled = reason !== "";
    button.title = reason || (action === "stop" ? "Stop the running command" : button.textContent.trim());
  }
}

// Only the rows in (or near) the viewport exist: a fleet of 10,000 hosts is an ordered list of names
// and two spacer rows standing in for the rest, so a change costs a binary search and a few rows.
const rows = new Map(); // host name -> <tr>, for the rows in the DOM now
let order = []; // the names shown (filter applied), in order
const OVERSCAN = 10;
const ALL_ROWS_UP_TO = 200; // a small fleet is drawn whole
let rowHeight = 57;

function spacer(id) {
  let row = document.getElementById(id);
  if (!row) {
    row = el("tr", { id, class: "spacer", "aria-hidden": "true" }, el("td", { colspan: 8 }));
    row.hidden = true;
  }
  return row;
}

// Where the table body starts on the page and how far the page is scrolled, read only when the
// layout is settled anyway (a frame, a resize, the snapshot): a change never forces a layout.
const geometry = { bodyTop: 0, scrollY: 0, viewport: 900 };

export function measureGeometry() {
  const body = document.getElementById("host-rows");
  geometry.scrollY = window.scrollY;
  geometry.bodyTop = body.getBoundingClientRect().top + geometry.scrollY;
  geometry.viewport = window.innerHeight;
}

function visibleRange() {
  if (order.length <= ALL_ROWS_UP_TO) return [0, order.length];
  const offset = geometry.scrollY - geometry.bodyTop;
  const first = Math.max(0, Math.floor(offset / rowHeight) - OVERSCAN);
  const count = Math.ceil(geometry.viewport / rowHeight) + 2 * OVERSCAN;
  return [Math.min(first, Math.max(0, order.length - count)), Math.min(order.length, first + count)];
}

function setSpacer(row, count) {
  row.hidden = count === 0;
  row.firstChild.style.height = `${count * rowHeight}px`;
}

// Put the rows of the visible range in the DOM, in order, building only the ones that are new.
function paint() {
  const body = document.getElementById("host-rows");
  const head = spacer("rows-before");
  const tail = spacer("rows-after");
  if (head.parentNode !== body) body.prepend(head);
  if (tail.parentNode !== body) body.append(tail);
  const [from, to] = visibleRange();
  const wanted = order.slice(from, to);
  const keep = new Set(wanted);
  for (const [name, row] of rows) {
    if (keep.has(name)) continue;
    row.remove();
    rows.delete(name);
  }
  let cursor = head.nextSibling;
  for (const name of wanted) {
    let row = rows.get(name);
    if (!row) {
      row = buildRow(name);
      rows.set(name, row);
      updateRow(row, state.hosts.get(name));
    }
    if (row === cursor) cursor = cursor.nextSibling;
    else body.insertBefore(row, cursor);
  }
  setSpacer(head, from);
  setSpacer(tail, order.length - to);
}

// The real height of a row, once rows exist (the spacers stand in for rows of that height).
function measureRows() {
  const first = rows.values().next().value;
  const measured = first ? first.offsetHeight : 0;
  if (measured > 0 && Math.abs(measured - rowHeight) > 1) {
    rowHeight = measured;
    paint();
  }
  document.getElementById("empty").hidden = state.hosts.size > 0;
  document.getElementById("no-match").hidden = state.hosts.size === 0 || order.length > 0;
}

// The names shown now (filter applied), in order: "select all" selects these.
export function shownHosts() {
  return [...order];
}

let paintQueued = false;

export function schedulePaint() {
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => {
    paintQueued = false;
    measureGeometry();
    paint();
  });
}

// One host changed: move it in the order if its place changed, redraw its row if it is shown.
export function renderHost(host) {
  const before = order.indexOf(host.name);
  if (before >= 0) order.splice(before, 1);
  let after = -1;
  if (matches(host)) {
    after = insertionPoint(order, host, (name) => state.hosts.get(name));
    order.splice(after, 0, host.name);
  }
  const row = rows.get(host.name);
  if (row) updateRow(row, host);
  if (before !== after) paint();
}

// "seen 12 s ago" ages in the page from the last time it got: no event needed to keep it fresh.
export function ageRows(now = Date.now()) {
  for (const [name, row] of rows) {
    const host = state.hosts.get(name);
    if (host) row.querySelector(".host__meta").textContent = seenText(host, now);
  }
}

// Redraw the shown rows (tooltips say "2 min ago" too).
export function refreshRows() {
  for (const [name, row] of rows) updateRow(row, state.hosts.get(name));
}

// The whole fleet changed (a snapshot) or the filter or sort did.
export function renderAll() {
  order = ordered(state.hosts.values());
  for (const [name, row] of rows) {
    if (state.hosts.has(name)) updateRow(row, state.hosts.get(name));
  }
  measureGeometry();
  paint();
  measureRows();
  renderSummary();
}

function testsFailing(host) {
  for (const c of host.compartments || []) if (c.kind === "COMPARTMENT_KIND_TESTS") return c.status === "COMPARTMENT_STATUS_ERROR";
  return false;
}

export function renderSummary() {
  let online = 0;
  let failing = 0;
  let running = 0;
  for (const h of state.hosts.values()) {
    if (h.online) online += 1;
    if (h.running_command_id) running += 1;
    if (testsFailing(h)) failing += 1;
  }
  const parts = [`${state.hosts.size} hosts`, `${online} online`];
  if (running) parts.push(`${running} busy`);
  if (failing) parts.push(`${failing} failing tests`);
  if (order.length !== state.hosts.size) parts.push(`${order.length} shown`);
  document.getElementById("summary").textContent = parts.join(" · ");
  document.title = failing ? `(${failing} failing) Fleetdeck` : "Fleetdeck";
  for (const sel of state.selected) if (!state.hosts.has(sel)) state.selected.delete(sel);
  renderSelection();
}

export function renderSelection() {
  const n = state.selected.size;
  document.getElementById("selection-count").textContent = n ? `${n} selected` : "Select hosts for a bulk action";
  const chosen = [...state.selected].map((name) => state.hosts.get(name)).filter(Boolean);
  for (const b of document.querySelectorAll("[data-bulk]")) {
    const reason = bulkBlockedReason(chosen, b.dataset.bulk);
    b.disabled = reason !== "";
    b.title = reason;
  }
  const all = document.getElementById("select-all");
  all.checked = n > 0 && n === state.hosts.size;
  all.indeterminate = n > 0 && n < state.hosts.size;
  for (const box of document.querySelectorAll("[data-select]")) box.checked = state.selected.has(box.dataset.select);
}

export { clear };
