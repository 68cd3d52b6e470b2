// The log panel: a command's output streamed as it is produced (stderr marked), ANSI rendered safely.
import { appendAnsi } from "./ansi.js";
import { api } from "./api.js";
import { commandState, el, operation, stream } from "./dom.js";
import { state } from "./state.js";

const MAX_LINES = 5000;
let source = null;
let current = null; // { id, host, op }
let queued = null; // an automatic test run to follow once the shown switch's output has ended

function panel() {
  return document.getElementById("log-panel");
}

function setHeader(command) {
  if (!current || command.id !== current.id) return;
  current.host = command.host || current.host;
  current.op = operation(command.operation);
  const st = commandState(command.state);
  document.getElementById("log-title").textContent = `${current.op} on ${current.host}`;
  const badge = document.getElementById("log-state");
  badge.textContent = st === "pending" ? "waiting for the agent" : st.replace("_", " ");
  badge.dataset.state = st;
  document.getElementById("log-stop").hidden = !(st === "running" || st === "pending");
}

function appendLine(line) {
  const out = document.getElementById("log-output");
  const kind = stream(line.stream);
  const row = el("div", { class: `line line--${kind}`, "data-stream": kind });
  row.append(el("span", { class: "line__mark", "aria-hidden": "true", text: kind === "stderr" ? "err" : "" }));
  appendAnsi(row.appendChild(el("span", { class: "line__text" })), line.text || "");
  out.append(row);
  while (out.childElementCount > MAX_LINES) out.firstElementChild.remove();
}

function note(text) {
  appendLine({ stream: "OUTPUT_STREAM_SYSTEM", text });
}

// The verdict line ends the output: the panel always scrolls to it.
function verdict(text) {
  note(text);
  const out = document.getElementById("log-output");
  out.scrollTop = out.scrollHeight;
}

function follow(commandId) {
  if (source) source.close();
  const es = new EventSource(api.outputUrl(commandId));
  source = es;
  es.addEventListener("lines", (event) => {
    const out = document.getElementById("log-output");
    const atBottom = out.scrollHeight - out.scrollTop - out.clientHeight < 40;
    const data = JSON.parse(event.data);
    if (Number(data.truncated_bytes) > 0) note(`[fleetdeck] ${data.truncated_bytes} bytes of earlier output were dropped`);
    for (const line of data.lines || []) appendLine(line);
    if (atBottom) out.scrollTop = out.scrollHeight;
  });
  es.addEventListener("end", (event) => {
    es.close();
    if (source === es) source = null;
    const command = JSON.parse(event.data);
    setHeader(command);
    const st = commandState(command.state);
    verdict(`[fleetdeck] ${operation(command.operation)} ${st.replace("_", " ")}${command.exit_code !== undefined && st !== "cancelled" ? ` (exit ${command.exit_code})` : ""}${command.message ? ` — ${command.message}` : ""}`);
    followQueued();
  });
  es.addEventListener("failure", (event) => {
    es.close();
    if (source === es) source = null;
    verdict(`[fleetdeck] ${JSON.parse(event.data)}`);
  });
}

function followQueued() {
  if (!queued) return;
  const next = queued;
  queued = null;
  note("[fleetdeck] tests started automatically after the switch");
  showOutput(next.id, { host: next.host, op: "test", keep: true });
}

export function showOutput(commandId, { host = "", op = "", keep = false } = {}) {
  const out = document.getElementById("log-output");
  if (!keep) {
    out.replaceChildren();
    queued = null;
  }
  current = { id: commandId, host, op };
  panel().hidden = false;
  document.body.classList.add("with-log");
  document.getElementById("log-title").textContent = `${op || "command"} on ${host || "…"}`;
  const known = state.commands.get(commandId);
  if (known) setHeader(known);
  else api.command(commandId).then(setHeader, () => {});
  follow(commandId);
}

export function currentCommandId() {
  return current ? current.id : null;
}

// A command changed: update the header; follow an automatic test run started by the shown switch.
export function onCommand(command) {
  if (!current) return;
  if (command.id === current.id) setHeader(command);
  else if (command.triggered_by_command_id === current.id && operation(command.operation) === "test" && !queued) {
    queued = { id: command.id, host: command.host };
    if (!source) followQueued();
  }
}

export function closePanel() {
  if (source) source.close();
  source = null;
  current = null;
  queued = null;
  panel().hidden = true;
  document.body.classList.remove("with-log");
}

export async function stopCurrent() {
  if (current) await api.cancel(current.id);
}
