// Calls to the web UI's JSON API; a refusal becomes an Error carrying the control plane's sentence.

export class ApiError extends Error {}

// The session's CSRF token, put in the page by the server; every state change sends it back.
function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? "";
}

export function toLogin() {
  window.location.assign("/login");
}

export async function call(method, url, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (method !== "GET") init.headers["X-CSRF-Token"] = csrfToken();
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError("The web UI is unreachable; check the connection.");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (response.status === 401) {
    toLogin();
    throw new ApiError("Your session has ended; log in again.");
  }
  if (!response.ok) throw new ApiError((data && data.error) || `request failed (${response.status})`);
  return data;
}

export const get = (url) => call("GET", url);
export const post = (url, body) => call("POST", url, body ?? {});
export const patch = (url, body) => call("PATCH", url, body);
const enc = encodeURIComponent;

export const api = {
  host: (name) => get(`/api/hosts/${enc(name)}`),
  commands: (name) => get(`/api/hosts/${enc(name)}/commands`),
  testRuns: (name) => get(`/api/hosts/${enc(name)}/test-runs`),
  testRun: (id) => get(`/api/test-runs/${enc(id)}`),
  caseSummaries: (name) => get(`/api/hosts/${enc(name)}/cases`),
  caseResults: (name, caseName) => get(`/api/hosts/${enc(name)}/cases/${enc(caseName)}`),
  failingCases: () => get("/api/failing-cases"),
  command: (id) => get(`/api/commands/${enc(id)}`),
  cancel: (id) => post(`/api/commands/${enc(id)}/cancel`),
  run: (hosts, operation) => post("/api/operations", { hosts, operation }),
  settings: () => get("/api/settings"),
  updateSettings: (body) => patch("/api/settings", body),
  updateHostSettings: (name, body) => patch(`/api/hosts/${enc(name)}/settings`, body),
  session: () => get("/api/session"),
  logout: () => post("/logout"),
  outputUrl: (id) => `/api/commands/${enc(id)}/output`,
};
