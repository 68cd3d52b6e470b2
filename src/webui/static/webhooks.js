// The Webhooks panel (admins only): the subscriptions with their last delivery and pending count, a
// form that adds one and shows its signing secret once, remove (confirmed) and "Send test", after
// which the panel follows that notification until the control plane reports it delivered.
import { confirmDialog } from "./actions.js";
import { call, get, post } from "./api.js";
import { ago, clear, el, enumName } from "./dom.js";
import { toast } from "./toasts.js";

const FOLLOW_MS = 120_000; // how long a test notification is followed before the panel stops asking
const enc = encodeURIComponent;
const eventName = (v) => enumName(v, "NOTIFICATION_EVENT_");
const formatName = (v) => enumName(v, "WEBHOOK_FORMAT_");

let webhooks = [];
let offered = { events: [], formats: [] };

export const isAdmin = () => document.body.dataset.role === "admin";

export async function loadWebhooks() {
  try {
    const listed = await get("/api/webhooks");
    webhooks = listed.webhooks || [];
    offered = { events: listed.events || [], formats: listed.formats || [] };
    render();
  } catch (error) {
    toast(error.message, { tone: "error" });
  }
  return webhooks;
}

// "delivered", "failed" or "none": how the latest attempt went (the row's data-delivery).
function deliveryState(w) {
  const d = w.last_delivery;
  if (!d || !d.event_id) return "none";
  return d.delivered ? "delivered" : "failed";
}

function deliveryText(w) {
  const d = w.last_delivery;
  if (!d || !d.event_id) return w.pending ? "not attempted yet" : "never";
  const what = `${eventName(d.event).replaceAll("_", " ")} · ${ago(d.attempted_at)}`;
  if (d.delivered) return `delivered (HTTP ${d.http_status}) · ${what}`;
  return `failed after ${d.attempts} attempt${d.attempts === 1 ? "" : "s"}: ${d.error || `HTTP ${d.http_status}`} · ${what}`;
}

function row(w) {
  const events = (w.events || []).map((e) => eventName(e).replaceAll("_", " "));
  const button = (label, action, onclick, tone = "") => el("button", { class: `btn btn--small ${tone}`, type: "button", "data-webhook-action": action, onclick }, label);
  return el(
    "tr",
    { "data-webhook": w.id, "data-delivery": deliveryState(w) },
    el("td", { class: "webhook__url", text: w.url, title: w.id }),
    el("td", { text: events.length ? events.join(", ") : "all events" }),
    el("td", { text: formatName(w.format) }),
    el("td", { class: "webhook__delivery", text: deliveryText(w) }),
    el("td", { class: "webhook__pending", text: String(w.pending || 0) }),
    el("td", { class: "webhook__actions" }, button("Send test", "test", () => sendTest(w)), button("Remove", "remove", () => remove(w), "btn--danger")),
  );
}

function render() {
  const body = document.getElementById("webhook-rows");
  if (!body) return;
  clear(body);
  for (const w of webhooks) body.append(row(w));
  document.getElementById("webhooks-empty").hidden = webhooks.length > 0;
  document.getElementById("webhook-table").hidden = webhooks.length === 0;
  document.getElementById("webhooks-count").textContent = webhooks.length ? `(${webhooks.length})` : "";
  renderChoices();
}

// The form's event checkboxes and format options, as the server names them (drawn once).
function renderChoices() {
  const events = document.getElementById("webhook-events");
  if (!events.querySelector("input") && offered.events.length) {
    for (const name of offered.events) {
      events.append(el("label", { class: "check" }, el("input", { type: "checkbox", name: "events", value: name }), ` ${name.replaceAll("_", " ")}`));
    }
  }
  const format = document.getElementById("webhook-format");
  if (format.childElementCount === 0 && offered.formats.length) {
    for (const name of offered.formats) format.append(el("option", { value: name, text: name }));
  }
}

// The new subscription's secret, shown once: the control plane never gives it out again.
function showSecret(webhook, secret) {
  const box = document.getElementById("webhook-secret");
  const value = el("input", { class: "webhook-secret__value", type: "text", value: secret, readOnly: true, "aria-label": "Signing secret" });
  value.addEventListener("focus", () => value.select());
  const copy = el("button", { class: "btn btn--small", type: "button" }, "Copy");
  copy.addEventListener("click", async () => {
    value.select();
    try {
      await navigator.clipboard.writeText(secret);
      copy.textContent = "Copied";
    } catch {
      toast("Copying was refused by the browser; select the secret and copy it yourself.", { tone: "error" });
    }
  });
  const done = el("button", { class: "btn btn--small btn--ghost", type: "button" }, "I have saved it");
  done.addEventListener("click", () => {
    clear(box);
    box.hidden = true;
  });
  clear(box).append(
    el("p", { class: "webhook-secret__hint", text: `Copy the signing secret of ${webhook.url} now: it is shown only this once. Deliveries carry X-Fleetdeck-Signature: t=<unix time>,v1=<HMAC-SHA256 of "<t>." + body> with this key.` }),
    el("div", { class: "webhook-secret__row" }, value, copy, done),
  );
  box.hidden = false;
}

async function create(event) {
  event.preventDefault();
  const form = event.target;
  const data = new FormData(form);
  const body = { url: String(data.get("url") || ""), events: data.getAll("events").map(String), format: String(data.get("format") || "json") };
  try {
    const created = await call("POST", "/api/webhooks", body);
    form.reset();
    form.closest("details").open = false;
    showSecret(created.webhook, created.secret);
    await loadWebhooks();
  } catch (error) {
    toast(error.message, { tone: "error" });
  }
}

async function remove(w) {
  if (!(await confirmDialog(`Remove the webhook to ${w.url}? Notifications not yet delivered to it are dropped.`, "Remove"))) return;
  try {
    await call("DELETE", `/api/webhooks/${enc(w.id)}`, {});
    toast(`Removed the webhook to ${w.url}`, { tone: "success" });
  } catch (error) {
    toast(error.message, { tone: "error" });
  }
  await loadWebhooks();
}

// Deliveries are not fleet events: after "Send test" the panel asks again, less and less often,
// until the latest delivery is that notification and it arrived (or the control plane gave up).
async function follow(id, eventId) {
  const until = Date.now() + FOLLOW_MS;
  let delay = 250;
  while (Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 5000);
    const w = (await loadWebhooks()).find((x) => x.id === id);
    if (!w) return;
    const d = w.last_delivery;
    if (d && d.event_id === eventId && (d.delivered || !w.pending)) return;
  }
}

async function sendTest(w) {
  let queued;
  try {
    queued = await post(`/api/webhooks/${enc(w.id)}/test`);
  } catch (error) {
    toast(error.message, { tone: "error" });
    return;
  }
  toast(`Test notification queued for ${w.url}`, { tone: "success" });
  await follow(w.id, queued.event_id);
}

export function initWebhooks() {
  if (!isAdmin()) return; // the panel is hidden and the routes refuse other roles
  document.getElementById("webhook-form").addEventListener("submit", create);
  loadWebhooks();
}
