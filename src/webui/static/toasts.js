// Toasts in the corner: "Tests failed on gpc0" with a Rollback button, refusals, outcomes.
import { el, icon } from "./dom.js";

export function toast(message, { tone = "info", actions = [], sticky = false, key = null } = {}) {
  const box = document.getElementById("toasts");
  if (key) box.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
  const close = el("button", { class: "toast__close", type: "button", "aria-label": "Dismiss" }, "×");
  const node = el(
    "div",
    { class: `toast toast--${tone}`, role: tone === "error" ? "alert" : "status", "data-key": key },
    el("div", { class: "toast__body" }, icon(tone === "error" ? "alert" : tone === "success" ? "check" : "info", "toast__icon"), el("span", { class: "toast__text", text: message })),
  );
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
  while (box.children.length > 6) box.lastElementChild.remove();
  if (!sticky) setTimeout(() => node.remove(), tone === "error" ? 12000 : 6000);
  return node;
}
