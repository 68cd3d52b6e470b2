// Whether an action makes sense on a host now, as the sentence a disabled button shows as its title;
// the same facts the control plane refuses on (policy.refusal_reason), so the page never offers a
// command that can only come back refused. "" when the action may run.
import { status } from "./dom.js";

function testsCompartment(host) {
  for (const c of host.compartments || []) if (c.kind === "COMPARTMENT_KIND_TESTS") return status(c.status);
  return "unknown";
}

// Why tests cannot run on the host whatever its state: turned off, or none defined.
export function noTestsReason(host) {
  if (host.test_settings && host.test_settings.enabled === false) return `Tests are disabled for ${host.name}; enable them in its test settings`;
  if (host.test_status?.state === "TEST_STATE_DISABLED" || (testsCompartment(host) === "disabled" && host.test_settings?.enabled !== false)) {
    return `${host.name} has no tests defined`;
  }
  return "";
}

// Why a rollback cannot run: the agent reports the deployed generation is the profile's first.
export function noRollbackReason(host) {
  const f = host.facts || {};
  if (!f.at_first_generation) return "";
  return `Nothing to roll back to: ${host.name} is at its first generation${f.generation ? ` (${f.generation})` : ""}`;
}

// Why `action` cannot start on the host now; "" when it can.
export function blockedReason(host, action) {
  if (action === "stop") return host.running_command_id ? "" : "Nothing is running";
  if (!host.online) return `${host.name} is offline`;
  if (host.running_command_id) return "A command is running; stop it first";
  if (action === "test") return noTestsReason(host);
  if (action === "rollback") return noRollbackReason(host);
  return "";
}

// A bulk action is offered while at least one selected host can take it; otherwise its title says
// why not (the first host's reason, and how many share it).
export function bulkBlockedReason(hosts, action) {
  if (hosts.length === 0) return "Select hosts for a bulk action";
  const reasons = hosts.map((h) => blockedReason(h, action));
  if (reasons.some((r) => r === "")) return "";
  return hosts.length === 1 ? reasons[0] : `${reasons[0]} (and ${hosts.length - 1} more host${hosts.length === 2 ? "" : "s"} cannot either)`;
}
