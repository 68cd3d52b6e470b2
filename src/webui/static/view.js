// Which hosts the table shows, and in what order: filter by name, status and label; sort by name or
// by "needs attention" (red first). Pure functions of a host and the view settings.
import { status } from "./dom.js";

export const view = { text: "", status: "all", sort: "name" };

// Lower is more urgent: a red compartment, then an offline host, yellow, blue, gray, all green.
const RANK = { error: 0, outdated: 2, working: 3, unknown: 4, unspecified: 4, disabled: 5, ok: 5 };
export const OFFLINE_RANK = 1;

export function attention(host) {
  let worst = host.online ? 5 : OFFLINE_RANK;
  for (const c of host.compartments || []) {
    const r = RANK[status(c.status)] ?? 4;
    if (r < worst) worst = r;
  }
  return worst;
}

// The hook for labels (`role=web` in the search box): hosts carry none yet; once Host has a labels
// map, it is read here and nowhere else.
export function hostLabels(host) {
  return host.labels || {};
}

function statusMatches(host, wanted) {
  if (wanted === "all") return true;
  if (wanted === "offline") return !host.online;
  const statuses = (host.compartments || []).map((c) => status(c.status));
  if (wanted === "ok") return statuses.length > 0 && statuses.every((s) => s === "ok" || s === "disabled");
  return statuses.includes(wanted);
}

// Whitespace-separated terms, all of which must match: `key=value` a label, anything else a part of
// the host's name (case does not matter).
export function matches(host, settings = view) {
  if (!statusMatches(host, settings.status)) return false;
  for (const term of settings.text.toLowerCase().split(/\s+/)) {
    if (!term) continue;
    const eq = term.indexOf("=");
    if (eq > 0) {
      const labels = hostLabels(host);
      const key = term.slice(0, eq);
      const found = Object.keys(labels).find((k) => k.toLowerCase() === key);
      if (found === undefined || String(labels[found]).toLowerCase() !== term.slice(eq + 1)) return false;
    } else if (!host.name.toLowerCase().includes(term)) return false;
  }
  return true;
}

// Negative when host `a` comes before host `b`.
export function compare(a, b, settings = view) {
  if (settings.sort === "attention") {
    const d = attention(a) - attention(b);
    if (d !== 0) return d;
  }
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

// The names of the hosts shown, in order.
export function ordered(hosts, settings = view) {
  const shown = [];
  for (const host of hosts) if (matches(host, settings)) shown.push(host);
  if (settings.sort === "attention") {
    const rank = new Map(shown.map((h) => [h.name, attention(h)]));
    shown.sort((a, b) => rank.get(a.name) - rank.get(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } else shown.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return shown.map((h) => h.name);
}

// Where `host` goes in `names` (already ordered; `byName` resolves them) so the order holds.
export function insertionPoint(names, host, byName, settings = view) {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compare(byName(names[mid]), host, settings) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
