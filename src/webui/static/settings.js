// Settings forms: a host's test overrides (UpdateHostSettings) and the global test timeout.
import { api } from "./api.js";
import { el, formatDuration, seconds } from "./dom.js";
import { state } from "./state.js";
import { toast } from "./toasts.js";

const dialog = () => document.getElementById("settings-dialog");

function triState(name, label, override, inForce) {
  const value = override === true ? "on" : override === false ? "off" : "inherit";
  const select = el(
    "select",
    { id: `setting-${name}`, name },
    el("option", { value: "inherit", text: `Host default (${inForce ? "on" : "off"} now)` }),
    el("option", { value: "on", text: "On" }),
    el("option", { value: "off", text: "Off" }),
  );
  select.value = value;
  return el("div", { class: "field" }, el("label", { for: `setting-${name}`, text: label }), select);
}

function form(title, fields, onSave) {
  const d = dialog();
  const error = el("p", { class: "form-error", role: "alert", hidden: true });
  const f = el(
    "form",
    { class: "settings", method: "dialog" },
    el("h2", { text: title }),
    ...fields,
    error,
    el("div", { class: "dialog__buttons" }, el("button", { class: "btn", type: "button", value: "cancel", "data-settings": "cancel", text: "Cancel" }), el("button", { class: "btn btn--primary", type: "submit", text: "Save" })),
  );
  f.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    try {
      await onSave(new FormData(f));
      d.close();
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
    }
  });
  f.querySelector("[data-settings=cancel]").addEventListener("click", () => d.close());
  d.replaceChildren(f);
  d.showModal();
}

export function openHostSettings(name) {
  const host = state.hosts.get(name);
  if (!host) return;
  const override = host.test_settings_override || {};
  const inForce = host.test_settings || {};
  const overrideTimeout = seconds(override.timeout);
  const timeout = el("input", { id: "setting-timeout", name: "timeout", type: "number", min: 1, max: 86400, step: 1, placeholder: `default: ${formatDuration(inForce.timeout)}` });
  if (overrideTimeout) timeout.value = String(Math.round(overrideTimeout));
  form(
    `${name} - Test settings`,
    [
      triState("enabled", "Tests enabled", override.enabled, inForce.enabled),
      triState("auto_run_after_switch", "Auto-run tests after switch", override.auto_run_after_switch, inForce.auto_run_after_switch),
      el("div", { class: "field" }, el("label", { for: "setting-timeout", text: "Test timeout override (seconds, empty for the default)" }), timeout),
      el("p", { class: "muted", text: `In force now: tests ${inForce.enabled ? "enabled" : "disabled"}, auto-run ${inForce.auto_run_after_switch ? "on" : "off"}, timeout ${formatDuration(inForce.timeout)}.` }),
    ],
    async (data) => {
      const tri = (v) => (v === "on" ? true : v === "off" ? false : null);
      const raw = String(data.get("timeout") || "").trim();
      const body = {
        enabled: tri(data.get("enabled")),
        auto_run_after_switch: tri(data.get("auto_run_after_switch")),
        timeout_seconds: raw ? Number(raw) : null,
      };
      await api.updateHostSettings(name, body);
      toast(`Saved test settings of ${name}`, { tone: "success" });
    },
  );
}

export async function openGlobalSettings() {
  let current;
  try {
    current = await api.settings();
  } catch (error) {
    toast(error.message, { tone: "error" });
    return;
  }
  state.desired = current.desired_state;
  const s = current.settings || {};
  const d = current.desired_state || {};
  const timeout = el("input", { id: "setting-test-timeout", name: "test_timeout", type: "number", min: 1, max: 86400, step: 1, required: true });
  timeout.value = String(Math.round(seconds(s.test_timeout) || 60));
  form(
    "Fleet settings",
    [
      el("div", { class: "field" }, el("label", { for: "setting-test-timeout", text: "Test timeout (seconds)" }), timeout),
      el("p", { class: "muted", text: `Heartbeat every ${formatDuration(s.heartbeat_interval)} · operation timeout ${formatDuration(s.operation_timeout)} · ${s.test_history_limit} test runs kept per host.` }),
      el("p", { class: "muted mono", text: `Desired commit ${d.commit || "not set"} · flake.lock ${d.lock_hash ? d.lock_hash.slice(0, 12) : "not set"}` }),
    ],
    async (data) => {
      await api.updateSettings({ test_timeout_seconds: Number(data.get("test_timeout")) });
      toast("Saved the fleet's test timeout", { tone: "success" });
    },
  );
}
