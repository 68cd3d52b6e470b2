// ANSI escape codes in command output: SGR colours become CSS classes, everything else is dropped.
import { el } from "./dom.js";

// CSI sequences (ESC [ ... final byte), OSC sequences (ESC ] ... BEL or ESC \), lone ESC x.
const ESCAPES = /\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

export function stripAnsi(text) {
  return text.replace(ESCAPES, "").replace(CONTROL, "");
}

// Split text into [{text, classes}] segments following SGR codes; other escapes vanish.
export function ansiSegments(text) {
  const segments = [];
  let fg = null;
  let bold = false;
  let dim = false;
  let underline = false;
  let last = 0;
  const push = (chunk) => {
    const clean = chunk.replace(CONTROL, "");
    if (!clean) return;
    const classes = [];
    if (fg) classes.push(`ansi-${fg}`);
    if (bold) classes.push("ansi-bold");
    if (dim) classes.push("ansi-dim");
    if (underline) classes.push("ansi-underline");
    segments.push({ text: clean, classes });
  };
  for (const match of text.matchAll(ESCAPES)) {
    push(text.slice(last, match.index));
    last = match.index + match[0].length;
    if (match[2] !== "m") continue;
    const codes = (match[1] || "0").split(";").map((c) => Number.parseInt(c || "0", 10));
    for (let i = 0; i < codes.length; i++) {
      const c = codes[i];
      if (c === 0) { fg = null; bold = dim = underline = false; }
      else if (c === 1) bold = true;
      else if (c === 2) dim = true;
      else if (c === 4) underline = true;
      else if (c === 22) bold = dim = false;
      else if (c === 24) underline = false;
      else if (c === 39) fg = null;
      else if (c >= 30 && c <= 37) fg = String(c - 30);
      else if (c >= 90 && c <= 97) fg = `b${c - 90}`;
      else if (c === 38 || c === 48) i += codes[i + 1] === 5 ? 2 : 4; // 256/true colour: skipped
    }
  }
  push(text.slice(last));
  return segments;
}

// Append text to parent with ANSI colours rendered as spans (textContent only, never HTML).
export function appendAnsi(parent, text) {
  for (const seg of ansiSegments(text)) {
    if (seg.classes.length === 0) parent.append(document.createTextNode(seg.text));
    else parent.append(el("span", { class: seg.classes.join(" "), text: seg.text }));
  }
  return parent;
}
