// DOM helpers, enum names and time formatting. Host-provided text only ever goes into textContent.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || ["type", "title", "role", "for", "id", "name", "value", "min", "max", "step", "href"].includes(key)) node.setAttribute(key, value === true ? "" : String(value));
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const SVG_NS = "http://www.w3.org/2000/svg";

export function icon(name, extraClass = "") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("class", `icon ${extraClass}`.trim());
  svg.setAttribute("aria-hidden", "true");
  const use = document.createElementNS(SVG_NS, "use");
  use.setAttribute("href", `#icon-${name}`);
  svg.append(use);
  return svg;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// "COMPARTMENT_STATUS_OK" -> "ok", "OPERATION_SWITCH" -> "switch".
export function enumName(value, prefix) {
  if (typeof value !== "string" || !value) return "unspecified";
  return value.startsWith(prefix) ? value.slice(prefix.length).toLowerCase() : value.toLowerCase();
}

export const status = (v) => enumName(v, "COMPARTMENT_STATUS_");
export const kind = (v) => enumName(v, "COMPARTMENT_KIND_");
export const operation = (v) => enumName(v, "OPERATION_");
export const commandState = (v) => enumName(v, "COMMAND_STATE_");
export const testState = (v) => enumName(v, "TEST_STATE_");
export const outcome = (v) => enumName(v, "TEST_OUTCOME_");
export const classification = (v) => enumName(v, "CASE_CLASSIFICATION_");
export const stream = (v) => enumName(v, "OUTPUT_STREAM_");

export function parseTime(value) {
  if (!value) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) || t <= 0 ? null : t;
}

export function ago(value, now = Date.now()) {
  const t = typeof value === "number" ? value : parseTime(value);
  if (t === null) return "never";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 10) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} days ago`;
}

// "12.5s" (a protobuf Duration in JSON) -> seconds.
export function seconds(duration) {
  if (typeof duration !== "string" || !duration.endsWith("s")) return null;
  const n = Number.parseFloat(duration);
  return Number.isFinite(n) ? n : null;
}

export function formatDuration(duration) {
  const s = typeof duration === "number" ? duration : seconds(duration);
  if (s === null) return "–";
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${Math.round(s * 10) / 10 >= 10 ? Math.round(s) : Math.round(s * 10) / 10}s`;
  const m = Math.floor(s / 60);
  return `${m}m ${Math.round(s - m * 60)}s`;
}

export const short = (hash, n = 7) => (hash ? hash.slice(0, n) : "–");

// A compartment status in the legend's words ("failed", never "error"): one vocabulary everywhere.
const STATUS_WORDS = { ok: "current", outdated: "outdated", error: "failed", working: "running", unknown: "no signal", disabled: "disabled" };
const TESTS_WORDS = { ...STATUS_WORDS, ok: "passed", outdated: "pending" };

export function statusWord(st, compartmentKind = "") {
  return (compartmentKind === "tests" ? TESTS_WORDS : STATUS_WORDS)[st] || st;
}
