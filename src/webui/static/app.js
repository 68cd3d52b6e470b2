// The dashboard: follows GET /events (snapshot, then changes) and wires every button.
import { bulk, runOperation, stopHost } from "./actions.js";
import { api, toLogin } from "./api.js";
import { noRollbackReason } from "./availability.js";
import { operation } from "./dom.js";
import { initFailingCases, noteHost, refreshFailingCases } from "./failing.js";
import { closePanel, onCommand, stopCurrent } from "./logpanel.js";
import { initPopups, openHistory, openPopup, refreshPopup } from "./popups.js";
import { initRollouts, loadRollouts, onHost as rolloutHost, onRollout } from "./rollouts.js";
import { openGlobalSettings, openHostSettings } from "./settings.js";
import { rememberCommand, state } from "./state.js";
import { ageRows, refreshRows, renderAll, renderHost, renderSelection, renderSummary, schedulePaint, shownHosts } from "./table.js";
import { toast } from "./toasts.js";
import { view } from "./view.js";

// --- The event stream -----------------------------------------------------------------------------

let source = null;
let retryDelay = 1000;
let retryTimer = null;

function setConnection(mode, text) {
  const badge = document.getElementById("connection");
  badge.dataset.state = mode;
  badge.querySelector(".conn__text").textContent = text;
  document.body.dataset.connection = mode;
}

function noteVersion(event) {
  if (event.lastEventId) state.version = event.lastEventId;
}

const handlers = {
  snapshot(data) {
    state.hosts = new Map((data.hosts || []).map((h) => [h.name, h]));
    renderAll();
    for (const host of state.hosts.values()) noteHost(host);
    refreshFailingCases();
    for (const name of state.hosts.keys()) refreshPopup(name);
    loadRollouts(); // what changed while this page was not following
    setConnection("live", "Live");
  },
  host(host) {
    state.hosts.set(host.name, host);
    renderHost(host);
    if (tipTarget && !tipTarget.isConnected) hideTooltip();
    noteHost(host);
    renderSummary();
    document.getElementById("empty").hidden = true;
    refreshPopup(host.name);
    rolloutHost(host);
  },
  rollout(rollout) {
    onRollout(rollout);
  },
  command(command) {
    rememberCommand(command);
    onCommand(command);
    const st = command.state;
    const op = operation(command.operation);
    if (op !== "test" && ["COMMAND_STATE_FAILED", "COMMAND_STATE_TIMED_OUT", "COMMAND_STATE_REFUSED"].includes(st)) {
      const what = st === "COMMAND_STATE_REFUSED" ? "was refused" : st === "COMMAND_STATE_TIMED_OUT" ? "timed out" : `failed (exit ${command.exit_code})`;
      toast(`${op} on ${command.host} ${what}${command.message ? `: ${command.message}` : ""}`, { tone: "error", key: `cmd-${command.id}` });
    }
  },
  tests_failed(failed) {
    const actions = [{ label: "View results", onClick: () => openPopup(failed.host, "tests", { runId: failed.run_id }) }];
    // The control plane's order: a regression offers the rollback first, a flaky failure a new run.
    const offered = (failed.offered_operations || []).map(operation);
    const runAgainFirst = offered[0] === "test";
    const rollback = { label: "Rollback", primary: !runAgainFirst, onClick: () => runOperation([failed.host], "rollback") };
    const again = { label: "Run again", primary: true, onClick: () => runOperation([failed.host], "test") };
    // No Rollback where there is nothing to roll back to (the host is at its first generation).
    const host = state.hosts.get(failed.host);
    const offers = (runAgainFirst ? [again, rollback] : [rollback]).filter((a) => a !== rollback || !host || !noRollbackReason(host));
    if (failed.rollback_available) actions.push(...offers);
    const text = failed.message || `Tests failed on ${failed.host}`;
    toast(failed.advice ? `${text} — ${failed.advice}` : text, { tone: "error", sticky: true, actions, key: `tests-${failed.host}` });
  },
  status(status) {
    if (status.connected) setConnection("live", "Live");
    else setConnection("degraded", status.message || "The control plane is unreachable; reconnecting…");
  },
  resync() {},
};

// How long each event took to apply (performance measures "fleetdeck:<event>"), and for a snapshot
// until the frame after it was painted ("fleetdeck:snapshot-painted"): the page's budgets are
// checked against these in Chromium.
const MEASURES_KEPT = 200;
let measures = 0;

function measure(name, started) {
  if (name !== "snapshot" && name !== "host") return;
  if (++measures > MEASURES_KEPT) {
    performance.clearMeasures();
    measures = 0;
  }
  performance.measure(`fleetdeck:${name}`, { start: started, end: performance.now() });
  if (name === "snapshot") {
    requestAnimationFrame(() => setTimeout(() => performance.measure("fleetdeck:snapshot-painted", { start: started, end: performance.now() }), 0));
  }
}

function connect() {
  clearTimeout(retryTimer);
  if (source) source.close();
  const url = state.version !== "0" ? `/events?since=${encodeURIComponent(state.version)}` : "/events";
  const es = new EventSource(url);
  source = es;
  for (const [name, handle] of Object.entries(handlers)) {
    es.addEventListener(name, (event) => {
      const started = performance.now();
      noteVersion(event);
      try {
        handle(JSON.parse(event.data));
      } catch (error) {
        console.error("could not apply a %s event", name, error);
      }
      measure(name, started);
    });
  }
  es.addEventListener("open", () => {
    retryDelay = 1000;
  });
  es.addEventListener("error", () => {
    if (es !== source) return;
    setConnection("reconnecting", "Reconnecting…");
    // EventSource retries by itself unless the server answered with an error; then start over.
    if (es.readyState === EventSource.CLOSED) {
      api.session().catch(() => {}); // sends the browser to the login page when the session is gone
      retryTimer = setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    }
  });
}

// --- Buttons ----------------------------------------------------------------------------------------

function onTableClick(event) {
  hideTooltip();
  const comp = event.target.closest("[data-compartment]");
  if (comp) {
    openPopup(comp.dataset.host, comp.dataset.compartment);
    return;
  }
  const actionButton = event.target.closest("[data-action]");
  if (!actionButton) return;
  const name = actionButton.dataset.host;
  const action = actionButton.dataset.action;
  if (action === "settings") openHostSettings(name);
  else if (action === "history") openHistory(name);
  else if (action === "stop") stopHost(name);
  else runOperation([name], action);
}

function onSelect(event) {
  const box = event.target.closest("[data-select]");
  if (box) {
    if (box.checked) state.selected.add(box.dataset.select);
    else state.selected.delete(box.dataset.select);
  } else if (event.target.id === "select-all") {
    state.selected = event.target.checked ? new Set(shownHosts()) : new Set();
  }
  renderSelection();
}

// --- Tooltips ---------------------------------------------------------------------------------------

// The tooltip follows its element: when the row is redrawn under it (a command ended while a dialog
// was open, say) it shows the new text, and it goes away with the element or when a dialog closes.
let tipTarget = null;
const tipWatch = new MutationObserver(() => {
  if (tipTarget && tipTarget.isConnected) placeTooltip(tipTarget);
  else hideTooltip();
});

function placeTooltip(target) {
  const tip = document.getElementById("tooltip");
  tip.textContent = target.dataset.tooltip;
  tip.hidden = false;
  const r = target.getBoundingClientRect();
  const left = Math.min(window.innerWidth - tip.offsetWidth - 8, Math.max(8, r.left + r.width / 2 - tip.offsetWidth / 2));
  tip.style.left = `${left + window.scrollX}px`;
  tip.style.top = `${r.bottom + window.scrollY + 6}px`;
}

function showTooltip(target) {
  tipWatch.disconnect();
  tipTarget = target;
  tipWatch.observe(target, { attributes: true, attributeFilter: ["data-tooltip"] });
  placeTooltip(target);
}

function hideTooltip() {
  tipWatch.disconnect();
  tipTarget = null;
  document.getElementById("tooltip").hidden = true;
}

function initTooltips() {
  const table = document.getElementById("hosts");
  table.addEventListener("pointerover", (event) => {
    const target = event.target.closest("[data-tooltip]");
    if (target) showTooltip(target);
  });
  table.addEventListener("pointerout", (event) => {
    if (event.target.closest("[data-tooltip]")) hideTooltip();
  });
  table.addEventListener("focusin", (event) => {
    const target = event.target.closest("[data-tooltip]");
    if (target) showTooltip(target);
  });
  table.addEventListener("focusout", hideTooltip);
  // A dialog gives focus back to the element that opened it; no tooltip should pop up over the page.
  for (const dialog of document.querySelectorAll("dialog")) dialog.addEventListener("close", hideTooltip);
}

async function logOut() {
  try {
    await api.logout();
  } catch (error) {
    toast(error.message, { tone: "error" });
    return;
  }
  if (source) source.close();
  toLogin();
}

// --- Filter, sort, scroll ---------------------------------------------------------------------------

function initView() {
  const text = document.getElementById("filter-text");
  const byStatus = document.getElementById("filter-status");
  const sort = document.getElementById("sort");
  const apply = () => {
    view.text = text.value;
    view.status = byStatus.value;
    view.sort = sort.value;
    renderAll();
  };
  text.addEventListener("input", apply);
  byStatus.addEventListener("change", apply);
  sort.addEventListener("change", apply);
  window.addEventListener("scroll", schedulePaint, { passive: true });
  window.addEventListener("resize", schedulePaint);
}

// --- Start ------------------------------------------------------------------------------------------

function start() {
  const table = document.getElementById("hosts");
  table.addEventListener("click", onTableClick);
  table.addEventListener("change", onSelect);
  for (const b of document.querySelectorAll("[data-bulk]")) b.addEventListener("click", () => bulk(b.dataset.bulk));
  document.getElementById("open-settings").addEventListener("click", openGlobalSettings);
  document.getElementById("logout").addEventListener("click", logOut);
  document.getElementById("log-close").addEventListener("click", closePanel);
  document.getElementById("log-stop").addEventListener("click", () => stopCurrent().catch((e) => toast(e.message, { tone: "error" })));
  initPopups();
  initFailingCases();
  initTooltips();
  renderSelection();
  initView();
  initRollouts();
  // "seen 12 s ago" ages in the page from the last time it has; tooltips ("2 min ago") too, slower.
  setInterval(() => ageRows(), 1000);
  setInterval(refreshRows, 15000);
  connect();
}

start();
