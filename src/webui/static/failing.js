// The "failing cases" section: which cases fail where right now, since which generation, and
// whether it is the same commit everywhere. Asked again whenever a host's latest test run changes.
import { api } from "./api.js";
import { classification, el } from "./dom.js";
import { openPopup } from "./popups.js";

const lastRuns = new Map(); // host -> the test run the section last saw for it
let timer = null;

export function noteHost(host) {
  const runId = host.test_status?.last_run_id || "";
  if (lastRuns.get(host.name) === runId) return;
  lastRuns.set(host.name, runId);
  refreshFailingCases();
}

export function refreshFailingCases() {
  // Coalesced: a burst of finished runs (a bulk test) asks once.
  clearTimeout(timer);
  timer = setTimeout(load, 250);
}

async function load() {
  try {
    render((await api.failingCases()).cases || []);
  } catch {
    // the section keeps what it showed; the next change asks again
  }
}

function render(cases) {
  const section = document.getElementById("failing-cases");
  section.hidden = cases.length === 0;
  const hostCount = new Set(cases.flatMap((c) => (c.hosts || []).map((h) => h.host))).size;
  document.getElementById("failing-count").textContent = `${cases.length} case${cases.length === 1 ? "" : "s"} on ${hostCount} host${hostCount === 1 ? "" : "s"}`;
  const list = document.getElementById("failing-list");
  list.replaceChildren(
    ...cases.map((c) => {
      const hosts = c.hosts || [];
      const commits = c.same_commit ? "same commit everywhere" : `${(c.commits || []).length} different commits`;
      return el(
        "li",
        { class: "failing__case", "data-failing-case": c.name },
        el("span", { class: "failing__name", text: c.name }),
        el("span", { class: "failing__meta", text: `${hosts.length} host${hosts.length === 1 ? "" : "s"} · ${commits}` }),
        el(
          "span",
          { class: "failing__hosts" },
          ...hosts.map((h) => {
            const cls = classification(h.last_classification);
            return el(
              "button",
              { class: `btn btn--small failing__host failing__host--${cls}`, type: "button", "data-failing-host": h.host, title: `${cls}, failing since ${h.failing_since_generation}, ${h.failing_runs} run${h.failing_runs === 1 ? "" : "s"}` },
              `${h.host} · since ${h.failing_since_generation || "?"}`,
            );
          }),
        ),
      );
    }),
  );
}

export function initFailingCases() {
  document.getElementById("failing-list").addEventListener("click", (event) => {
    const button = event.target.closest("[data-failing-host]");
    if (button) openPopup(button.dataset.failingHost, "tests");
  });
}
