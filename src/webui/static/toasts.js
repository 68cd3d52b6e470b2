// Toasts in the corner: "Tests failed on gpc0" with a Rollback button, refusals, outcomes.
import { el, icon } from "./dom.js";

const MAX_TOASTS = 6; // sticky toasts ("Tests failed on X" with Rollback) never count against it

// `details`: lines listed under the message (e.g. every host a bulk action was refused on).
export function toast(message, { tone = "info", actions = [], sticky = false, key = null, details = [] } = {}) {
  const box = document.getElementById("toasts");
  if (key) box.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
  const close = el("button", { class: "toast__close", type: "button", "aria-label": "Dismiss" }, "×");
  const node = el(
    "div",
    { class: `toast toast--${tone}`, role: tone === "error" ? "alert" : "status", "data-key": key, "data-sticky": sticky ? "" : null },
    el("div", { class: "toast__body" }, icon(tone === "error" ? "alert" : tone === "success" ? "check" : "info", "toast__icon"), el("span", { class: "toast__text", text: message })),
  );
  if (details.length) node.append(el("ul", { class: "toast__list" }, ...details.map((line) => el("li", { text: line }))));
  const buttons = el("div", { class: "toast__actions" });
  for (const action of actions) {
    const b = el("button", { class: `btn btn--small ${action.primary ? "btn--primary" : ""}`, type: "button", text: action.label });
    b.addEventListener("click", () => {
      node.remove();
      action.onClick();
    });
    buttons.append(b);
  }
  buttons.append(close);
  node.append(buttons);
  close.addEventListener("click", () => node.remove());
  box.prepend(node);
  // Over the cap the oldest non-sticky toasts go; a sticky one stays until dismissed or acted on.
  const transient = [...box.children].filter((t) => !t.hasAttribute("data-sticky"));
  const stickyCount = box.children.length - transient.length;
  while (transient.length && stickyCount + transient.length > MAX_TOASTS) transient.pop().remove();
  if (!sticky) setTimeout(() => node.remove(), tone === "error" ? 12000 : 6000);
  return node;
}
