// Form parts shared by the views: labelled fields, the large segmented scales, the server's
// refusals shown next to the field they name, times of day, and the page's dialogs.
// No state here.

import { el, setText } from "./format.js";
import { serverNow } from "./state.js";

/**
 * A labelled field: <label class="field" data-field="name"><span>Label</span>input</label>.
 * `name` is the field as the server names it in a 422 (default: the input's name), so a
 * refusal can be shown next to it (showErrors).
 */
export function field(label, input, { name, hint, cls } = {}) {
  return el("label", { class: `field${cls ? ` ${cls}` : ""}`, "data-field": name || input.name || undefined },
    el("span", { class: "field-label", textContent: label }), input,
    hint ? el("span", { class: "field-hint", textContent: hint }) : null);
}

/** A <select> of [value, text] pairs (a value of "" is the "not said" choice). */
export function select(name, options, value = "") {
  const s = el("select", { name },
    ...options.map(([v, t]) => el("option", { value: String(v), textContent: t })));
  s.value = String(value ?? "");
  return s;
}

/** The form-level message (refusals, "saved"). `say(node, text, kind)` fills it. */
export function formMessage() {
  return el("p", { class: "form-message", role: "alert", hidden: true });
}

export function say(node, text, kind = "error") {
  node.textContent = text;
  node.dataset.kind = kind;
  node.setAttribute("role", kind === "error" ? "alert" : "status");
  node.hidden = !text;
}

/** Remove every field error shown in `root`. */
export function clearErrors(root) {
  for (const n of root.querySelectorAll(".field-error")) n.remove();
  for (const n of root.querySelectorAll("[aria-invalid]")) n.removeAttribute("aria-invalid");
}

/** The element that shows field `key` ("detail.dose_mg", "birth_date") in `root`. */
function fieldNode(root, key) {
  const plain = key.replace(/^detail\./, "");
  return root.querySelector(`[data-field="${CSS.escape(key)}"]`) ||
    root.querySelector(`[data-field="${CSS.escape(plain)}"]`);
}

let errorSeq = 0;

/** Mark field `key` invalid with `text` under it. Returns false when `root` has no such field. */
export function markField(root, key, text) {
  const box = fieldNode(root, key);
  if (!box) return false;
  box.hidden = false;
  const id = `field-error-${++errorSeq}`;
  const note = el("span", { class: "field-error", id, textContent: text });
  if (box.tagName === "FIELDSET") {
    box.setAttribute("aria-invalid", "true");
    box.append(note);
  } else {
    box.append(note);
  }
  for (const input of box.querySelectorAll("input, select, textarea")) {
    if (input.type === "radio" || input.type === "checkbox") continue;
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", id);
  }
  box.setAttribute("aria-invalid", "true");
  return true;
}

/**
 * Show a refusal in `root`: each field a 422 names gets its message next to it (without the
 * "detail.dose_mg: " the server puts in front); what names no field here goes to `message`
 * (with `prefix` before it). The first field at fault gets the focus. Returns the text
 * shown in `message`, "" when every error found its field.
 */
export function showErrors(root, err, message, prefix = "Not saved: ") {
  clearErrors(root);
  const rest = [];
  let first = null;
  for (const f of err.fields || []) {
    const key = f.loc.slice(1).map(String).join(".");
    const text = f.msg.replace(/^[\w.]+: /, (m) => (key.endsWith(m.slice(0, -2)) ? "" : m));
    if (key && markField(root, key, text)) {
      first ||= fieldNode(root, key);
    } else {
      rest.push(f.msg);
    }
  }
  let text = "";
  if (!err.fields || !err.fields.length) {
    text = err.status === 0 ? "Not saved: the server cannot be reached." : `${prefix}${err.message}`;
  } else if (rest.length) {
    text = `${prefix}${rest.join("; ")}`;
  }
  if (message) say(message, text);
  const focus = first?.querySelector("input:not([type=radio]), select, textarea, input");
  if (focus) focus.focus();
  return text;
}

// ---- segmented scales --------------------------------------------------------------------

/**
 * A row of large, touch-friendly segments: radio buttons (one tab stop, arrow keys), where
 * tapping the selected segment again clears it (an unanswered scale is not sent).
 */
export function segmented(name, label, options, fieldName) {
  const value = el("span", { class: "seg-value", "aria-hidden": "true" });
  const segs = el("div", { class: "segs" });
  segs.style.setProperty("--n", String(options.length)); // CSSOM: allowed by style-src 'self'
  const group = el("fieldset", { class: "segmented", "data-scale": name, "data-field": fieldName || name },
    el("legend", {}, el("span", { textContent: label }), value),
    segs);
  segs.append(...options.map((o) =>
    el("label", { class: "seg", "data-value": o.value },
      el("input", { type: "radio", name, value: o.value,
        "aria-label": o.sub ? `${o.text} ${o.sub}` : o.text }),
      el("span", { class: "seg-face" },
        el("span", { class: "seg-num", textContent: o.text }),
        o.sub ? el("span", { class: "seg-sub", textContent: o.sub }) : null))));
  group.addEventListener("click", (ev) => {
    const input = ev.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "radio") return;
    if (group.dataset.value === input.value) input.checked = false;
    syncSegmented(group);
  });
  group.addEventListener("change", () => syncSegmented(group)); // arrow keys
  syncSegmented(group);
  return group;
}

export function syncSegmented(group) {
  const picked = group.querySelector("input:checked");
  if (picked) group.dataset.value = picked.value;
  else delete group.dataset.value;
  const sub = picked?.closest(".seg")?.querySelector(".seg-sub");
  setText(group.querySelector(".seg-value"), picked
    ? `${picked.closest(".seg").querySelector(".seg-num").textContent}${sub ? ` ${sub.textContent}` : ""}`
    : "—");
}

/** Select `value` in a segmented group (null: none). */
export function setSegmented(group, value) {
  for (const i of group.querySelectorAll("input")) i.checked = value !== null && i.value === String(value);
  syncSegmented(group);
}

// ---- times -------------------------------------------------------------------------------

const pad = (n) => String(n).padStart(2, "0");

/** A time-of-day input's value as POSIX seconds today (yesterday if that is in the future). */
export function timeInputToPosix(value, now = serverNow()) {
  const [h, m, s] = value.split(":").map(Number);
  const d = new Date(now * 1000);
  d.setHours(h, m, s || 0, 0);
  let t = d.getTime() / 1000;
  if (t > now + 60) t -= 86400; // entered just before midnight, charted just after
  return t;
}

/** POSIX seconds as a time input's value (HH:MM), local time. */
export function timeValue(t) {
  const d = new Date(t * 1000);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function nowTimeValue() {
  return timeValue(serverNow());
}

/**
 * A time-of-day input that follows the clock while the nurse leaves it alone (it is brought
 * up to date when the form is touched); `chosenTime` then gives "now" to the second, and
 * once the nurse sets it, that time of day.
 */
export function clockInput(name, attrs = {}) {
  const input = el("input", { name, type: "time", value: nowTimeValue(), required: true, ...attrs });
  input.dataset.auto = input.value;
  const fresh = () => {
    if (input.value === input.dataset.auto) input.value = input.dataset.auto = nowTimeValue();
  };
  input.addEventListener("focus", fresh);
  input.follow = fresh; // the form calls it on focusin/pointerdown
  return input;
}

/** POSIX seconds a clockInput stands for (now, to the second, when left alone). */
export function chosenTime(input) {
  if (!input.value || input.value === input.dataset.auto) return serverNow();
  return timeInputToPosix(input.value);
}

/** Put a clockInput back to following the clock. */
export function resetClock(input) {
  input.value = input.dataset.auto = nowTimeValue();
}

/** POSIX seconds as a date input's value (YYYY-MM-DD), local time. */
export function dateValue(t) {
  const d = new Date(t * 1000);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** POSIX seconds as "2024-03-05 14:20", local time. */
export function dateTime(t) {
  if (t === null || t === undefined) return "";
  const d = new Date(t * 1000);
  return `${dateValue(t)} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// ---- dialogs -----------------------------------------------------------------------------

/**
 * Ask a yes/no question in the page's modal dialog, with an optional second line (what
 * exactly will be done). Resolves true on "confirm".
 */
export function confirmDialog(question, okText = "Confirm", detail = "") {
  const dialog = document.getElementById("confirm-dialog");
  dialog.querySelector(".question").textContent = question;
  const more = dialog.querySelector(".confirm-detail");
  more.textContent = detail;
  more.hidden = !detail;
  dialog.querySelector("[value=confirm]").textContent = okText;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}

/**
 * Ask for a reason in the page's modal dialog (void an entry, pause or stop the infusion).
 * Resolves with the reason (3-500 characters), or null when cancelled.
 */
export function reasonDialog(question, okText, { value = "", label = "Reason", suggestions = [] } = {}) {
  const dialog = document.getElementById("reason-dialog");
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("#reason-input");
  const list = dialog.querySelector("#reason-suggestions");
  dialog.querySelector(".question").textContent = question;
  dialog.querySelector(".reason-label").textContent = label;
  dialog.querySelector("#reason-ok").textContent = okText;
  list.replaceChildren(...suggestions.map((s) => el("option", { value: s })));
  input.value = value;
  dialog.returnValue = "";
  dialog.showModal();
  input.select();
  return new Promise((resolve) => {
    const done = (result) => {
      form.onsubmit = null;
      dialog.querySelector("#reason-cancel").onclick = null;
      resolve(result);
    };
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const reason = input.value.trim();
      if (reason.length < 3) {
        input.setCustomValidity("Give a reason of at least 3 characters.");
        input.reportValidity();
        return;
      }
      dialog.close("confirm");
      done(reason);
    };
    input.oninput = () => input.setCustomValidity("");
    dialog.querySelector("#reason-cancel").onclick = () => dialog.close("cancel");
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "confirm") done(null);
    }, { once: true });
  });
}

/**
 * A username as text nodes with a line-break opportunity (<wbr>) after each ".", "_", "-"
 * or "@": usernames have no spaces ("nurse.test"), so a narrow column would otherwise
 * overflow or break mid-word.
 */
export function breakableName(name) {
  const out = [];
  for (const part of String(name ?? "").split(/(?<=[._@-])/)) {
    if (out.length) out.push(el("wbr"));
    out.push(part);
  }
  return out;
}
