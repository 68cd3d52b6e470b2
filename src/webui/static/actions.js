// Operations from buttons: confirmation for switch and rollback, refusals shown as sentences.
import { api } from "./api.js";
import { el } from "./dom.js";
import { showOutput } from "./logpanel.js";
import { state } from "./state.js";
import { toast } from "./toasts.js";

const CONFIRM = {
  switch: (hosts) => [`Switch ${list(hosts)} to the configuration in ${hosts.length > 1 ? "their checkouts" : "its checkout"}?`, "Switch"],
  rollback: (hosts) => [`Roll ${list(hosts)} back to the previous generation?`, "Rollback"],
};

function list(hosts) {
  return hosts.length <= 3 ? hosts.join(", ") : `${hosts.slice(0, 3).join(", ")} and ${hosts.length - 3} more`;
}

// Resolves true when the user confirms in the confirmation dialog.
export function confirmDialog(text, okLabel) {
  const dialog = document.getElementById("confirm");
  dialog.replaceChildren();
  const ok = el("button", { class: "btn btn--primary", type: "button", "data-confirm": "ok", text: okLabel });
  const cancel = el("button", { class: "btn", type: "button", "data-confirm": "cancel", text: "Cancel" });
  dialog.append(el("p", { class: "confirm__text", text }), el("div", { class: "dialog__buttons" }, cancel, ok));
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.close();
      resolve(answer);
    };
    ok.addEventListener("click", () => done(true), { once: true });
    cancel.addEventListener("click", () => done(false), { once: true });
    dialog.addEventListener("cancel", () => resolve(false), { once: true });
    dialog.showModal();
    ok.focus();
  });
}

export async function runOperation(hosts, op) {
  if (hosts.length === 0) return;
  if (CONFIRM[op]) {
    const [text, label] = CONFIRM[op](hosts);
    if (!(await confirmDialog(text, label))) return;
  }
  let response;
  try {
    response = await api.run(hosts, op);
  } catch (error) {
    toast(error.message, { tone: "error" });
    return;
  }
  const started = [];
  const refused = [];
  for (const result of response.results || []) {
    if (result.command_id) started.push(result);
    else refused.push(result.refused_reason || `${result.host} refused ${op}`);
  }
  // All refusals of one action in ONE toast, so none is pushed out by the others.
  if (refused.length === 1) toast(refused[0], { tone: "error", key: `refused-${op}` });
  else if (refused.length > 1) {
    const hosts = (response.results || []).filter((r) => !r.command_id).map((r) => r.host);
    toast(`${op} was refused on ${refused.length} hosts: ${hosts.join(", ")}`, { tone: "error", key: `refused-${op}`, details: refused });
  }
  if (started.length === 1) showOutput(started[0].command_id, { host: started[0].host, op });
  else if (started.length > 1) toast(`${op} started on ${started.length} hosts`, { tone: "success" });
}

export async function stopHost(name) {
  const host = state.hosts.get(name);
  if (!host || !host.running_command_id) {
    toast(`Nothing is running on ${name}`, { tone: "info" });
    return;
  }
  try {
    await api.cancel(host.running_command_id);
    toast(`Asked ${name} to stop`, { tone: "info" });
  } catch (error) {
    toast(error.message, { tone: "error" });
  }
}

export async function bulk(op) {
  const hosts = [...state.selected].sort();
  if (op === "stop") {
    for (const name of hosts) await stopHost(name);
    return;
  }
  await runOperation(hosts, op);
}
