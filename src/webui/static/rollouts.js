// The Rollouts panel: each rollout's batches as rows of hosts with their compartments, the step each
// host is at, the failing cases inline, and pause / resume / abort / approve. Fed by `rollout`
// events (and the hosts' own events for their compartments); a form starts a new rollout.
import { call, get, post } from "./api.js";
import { clear, el, short } from "./dom.js";
import { state } from "./state.js";
import { compartmentStatus, KINDS, LABELS } from "./table.js";
import { toast } from "./toasts.js";

const rollouts = new Map(); // id -> rollout, as the last event said
const SHOWN = 5; // the newest rollouts shown
const word = (value, prefix) => (typeof value === "string" ? value.replace(prefix, "").toLowerCase().replaceAll("_", " ") : "");
const rolloutState = (r) => word(r.state, "ROLLOUT_STATE_");
const hostState = (h) => word(h.state, "ROLLOUT_HOST_STATE_");
const step = (h) => word(h.step, "ROLLOUT_STEP_") || "–";

let scheduled = false;

export function onRollout(rollout) {
  rollouts.set(rollout.id, rollout);
  schedule();
}

// A host changed: its chips in the panel show its compartments, so the panel is drawn again.
export function onHost(host) {
  if (host.rollout_id || [...rollouts.values()].some((r) => isLive(r) && hostsOf(r).includes(host.name))) schedule();
}

export async function loadRollouts() {
  try {
    const listed = await get("/api/rollouts");
    for (const r of listed.rollouts || []) if (!rollouts.has(r.id)) rollouts.set(r.id, r);
    schedule();
  } catch (error) {
    toast(error.message, { tone: "error" });
  }
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    render();
  });
}

const isLive = (r) => !r.finished_at;
const hostsOf = (r) => (r.batches || []).flatMap((b) => (b.hosts || []).map((h) => h.host));

function chip(h) {
  const host = state.hosts.get(h.host);
  const comps = el(
    "span",
    { class: "rollout-host__comps" },
    KINDS.map((k) => el("span", { class: "rollout-comp", "data-status": host ? compartmentStatus(host, k) : "unknown", title: `${LABELS[k]}` })),
  );
  const cases = (h.failed_cases || []).length ? el("span", { class: "rollout-host__cases", text: `failed: ${h.failed_cases.join(", ")}` }) : null;
  return el(
    "li",
    { class: "rollout-host", "data-rollout-host": h.host, "data-state": hostState(h) },
    el("span", { class: "rollout-host__name", text: h.host }),
    comps,
    el("span", { class: "rollout-host__step", text: `${hostState(h)} · ${step(h)}${h.rolled_back ? " · rolled back" : ""}` }),
    cases,
    h.message && !cases ? el("span", { class: "rollout-host__message muted", text: h.message }) : null,
  );
}

function act(rollout, action, body) {
  return async () => {
    try {
      const updated = await post(`/api/rollouts/${encodeURIComponent(rollout.id)}/${action}`, body);
      onRollout(updated);
    } catch (error) {
      toast(error.message, { tone: "error" });
    }
  };
}

function buttons(r) {
  const s = rolloutState(r);
  const list = [];
  const button = (label, action, body, tone = "") => el("button", { class: `btn btn--small ${tone}`, type: "button", "data-rollout-action": action, onclick: act(r, action, body) }, label);
  if (s === "awaiting approval") list.push(button("Approve", "approve", undefined, "btn--primary"));
  if (s === "running") list.push(button("Pause", "pause"));
  if (s === "paused") list.push(button("Resume", "resume", undefined, "btn--primary"));
  if (s === "stopped") {
    list.push(button("Roll back failed hosts", "abort", { roll_back_failed_hosts: true }, "btn--danger"));
    list.push(button("Resume anyway", "resume"));
  }
  if (isLive(r) && s !== "aborted") list.push(button("Abort", "abort", { roll_back_failed_hosts: false }));
  return list;
}

function card(r) {
  const canary = (r.batches || [])[0]?.canary;
  const rows = (r.batches || []).map((b, i) =>
    el(
      "div",
      { class: "rollout-batch", "data-batch": i, "data-current": i === r.current_batch && isLive(r) },
      el("span", { class: "rollout-batch__label", text: b.canary ? "Canary" : `Batch ${canary ? i : i + 1}` }),
      el("ul", { class: "rollout-batch__hosts" }, (b.hosts || []).map(chip)),
    ),
  );
  return el(
    "article",
    { class: "rollout", "data-rollout": r.id, "data-state": rolloutState(r) },
    el(
      "header",
      { class: "rollout__head" },
      el("strong", { text: `Rollout ${r.id}` }),
      el("span", { class: "rollout__state", text: rolloutState(r) }),
      el("span", { class: "muted", text: `to ${short(r.spec?.commit)}${r.spec?.selector ? ` · ${r.spec.selector}` : ""}` }),
      el("span", { class: "spacer" }),
      buttons(r),
    ),
    r.message ? el("p", { class: "rollout__message", text: r.message }) : null,
    rows,
  );
}

function render() {
  const list = document.getElementById("rollout-list");
  if (!list) return;
  const newest = [...rollouts.values()].sort((a, b) => (a.created_at < b.created_at ? 1 : -1)).slice(0, SHOWN);
  clear(list);
  for (const r of newest) list.append(card(r));
  document.getElementById("rollouts-empty").hidden = newest.length > 0;
}

async function create(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const number = (key) => (data.get(key) ? Number.parseInt(String(data.get(key)), 10) : 0);
  const body = {
    commit: String(data.get("commit") || ""),
    lock_hash: String(data.get("lock_hash") || ""),
    selector: String(data.get("selector") || ""),
    canary_hosts: String(data.get("canary_hosts") || ""),
    batch_size: number("batch_size"),
    failure_budget: number("failure_budget"),
    approve_after_canary: data.get("approve_after_canary") === "on",
    roll_back_failed: data.get("roll_back_failed") === "on",
  };
  try {
    onRollout(await call("POST", "/api/rollouts", body));
    form.closest("details").open = false;
  } catch (error) {
    toast(error.message, { tone: "error" });
  }
}

export function initRollouts() {
  document.getElementById("rollout-form").addEventListener("submit", create);
  loadRollouts();
}
