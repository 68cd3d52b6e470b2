// The host table: one row per host, five compartment buttons, per-host actions.
import { ago, clear, el, icon, kind, parseTime, short, status } from "./dom.js";
import { state } from "./state.js";

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
  return `${c.message || `${LABELS[k]}: ${st}`}${since}`;
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

function updateRow(row, host) {
  row.classList.toggle("host-row--offline", !host.online);
  row.querySelector("[data-select]").checked = state.selected.has(host.name);
  row.querySelector(".online-dot").dataset.online = host.online ? "yes" : "no";
  const facts = host.facts || {};
  const seen = host.online ? `online · seen ${ago(host.last_seen)}` : `offline · last seen ${ago(host.last_seen)}`;
  row.querySelector(".host__meta").textContent = [facts.os, seen].filter(Boolean).join(" · ");
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
    if (action === "stop") {
      button.disabled = !running;
      button.title = running ? "Stop the running command" : "Nothing is running";
    } else {
      button.disabled = !host.online || running;
      button.title = !host.online ? `${host.name} is offline` : running ? "A command is running; stop it first" : "";
    }
  }
}

const rows = new Map(); // host name -> <tr>, so a fleet of thousands never searches the DOM

export function renderHost(host) {
  const body = document.getElementById("host-rows");
  let row = rows.get(host.name);
  if (!row) {
    row = buildRow(host.name);
    rows.set(host.name, row);
    const after = [...body.children].find((r) => r.dataset.host > host.name);
    body.insertBefore(row, after || null);
  }
  updateRow(row, host);
}

export function renderAll() {
  const body = document.getElementById("host-rows");
  for (const [name, row] of rows) {
    if (state.hosts.has(name)) continue;
    row.remove();
    rows.delete(name);
  }
  const fresh = document.createDocumentFragment();
  for (const name of [...state.hosts.keys()].sort()) {
    if (rows.has(name)) continue;
    const row = buildRow(name);
    rows.set(name, row);
    fresh.append(row);
  }
  if (body.childElementCount === 0) body.append(fresh); // the first snapshot: already in order
  else for (const row of [...fresh.children]) body.insertBefore(row, [...body.children].find((r) => r.dataset.host > row.dataset.host) || null);
  for (const host of state.hosts.values()) updateRow(rows.get(host.name), host);
  document.getElementById("empty").hidden = state.hosts.size > 0;
  renderSummary();
}

export function renderSummary() {
  const hosts = [...state.hosts.values()];
  const online = hosts.filter((h) => h.online).length;
  const failing = hosts.filter((h) => compartmentStatus(h, "tests") === "error").length;
  const running = hosts.filter((h) => h.running_command_id).length;
  const parts = [`${hosts.length} hosts`, `${online} online`];
  if (running) parts.push(`${running} busy`);
  if (failing) parts.push(`${failing} failing tests`);
  document.getElementById("summary").textContent = parts.join(" · ");
  document.title = failing ? `(${failing} failing) Fleetdeck` : "Fleetdeck";
  for (const sel of state.selected) if (!state.hosts.has(sel)) state.selected.delete(sel);
  renderSelection();
}

export function renderSelection() {
  const n = state.selected.size;
  document.getElementById("selection-count").textContent = n ? `${n} selected` : "Select hosts for a bulk action";
  for (const b of document.querySelectorAll("[data-bulk]")) b.disabled = n === 0;
  const all = document.getElementById("select-all");
  all.checked = n > 0 && n === state.hosts.size;
  all.indeterminate = n > 0 && n < state.hosts.size;
  for (const box of document.querySelectorAll("[data-select]")) box.checked = state.selected.has(box.dataset.select);
}

export { clear };
