// The daily pain journal: its scales (the study's, docs/api.md "Charted events"), the form
// with large segmented scales (used in the bed detail and for follow-up journals), and how
// an entry reads in the timeline and in tables.

import { el, num, clockShort, clockTime } from "./format.js";
import { ApiError } from "./api.js";
import {
  field, formMessage, say, segmented, syncSegmented, setSegmented, clearErrors, showErrors,
  nowTimeValue, timeInputToPosix, breakableName, dateValue,
} from "./forms.js";

/** The journal's scores, in display order. */
export const JOURNAL_SCALES = [
  { name: "pain", label: "Pain now", short: "pain", max: 10 },
  { name: "worst_pain", label: "Worst daily pain", short: "worst", max: 10 },
  { name: "least_pain", label: "Least daily pain", short: "least", max: 10 },
  { name: "pain_24h", label: "Pain over the past 24 h", short: "24 h", max: 10 },
  { name: "movement", label: "Ability to initiate movement", short: "movement", max: 10 },
  { name: "affective", label: "Affective component", short: "affective", max: 4 },
  { name: "punishing", label: "Punishing pain", short: "punishing", max: 4 },
];
/** Affective component, the clinical 0-4 scale. */
export const AFFECTIVE = ["none", "mild", "moderate", "severe", "very severe"];
const PAIN_CHARACTERS = ["burning", "aching", "punishing"];
const NOTE_MAX = 500;

/**
 * The journal form. Only what the nurse fills is sent; inconsistent entries are refused
 * here (nothing sent), the server's refusals are shown in the form.
 *
 * @param {object} o
 * @param {string} o.label the form's accessible name
 * @param {string} o.submitText, o.action the submit button's text and data-action
 * @param {Node[]} [o.before] extra fields at the top (a follow-up's week, an amendment's reason)
 * @param {(form: HTMLFormElement) => {text: string, nodes: Element[]}|null} [o.check]
 *   checks of those extra fields
 * @param {boolean} [o.time] a time-of-day field (default true); left alone it follows the
 *   clock and the entry is charted "now"
 * @param {object} [o.initial] a journal's detail to start from (an amendment)
 * @param {() => void} [o.onCancel] shows a Cancel button
 * @param {(detail: object, extra: {time?: number}) => Promise<unknown>} o.onSubmit sends it;
 *   throws ApiError when refused
 * @returns {{form: HTMLFormElement, say: (text: string, kind?: string) => void}}
 */
export function journalForm(o) {
  const scales = JOURNAL_SCALES.map((s) => segmented(s.name, `${s.label} (0-${s.max})`,
    Array.from({ length: s.max + 1 }, (_, i) => ({ value: String(i), text: String(i),
      sub: s.name === "affective" ? AFFECTIVE[i] : undefined })), `detail.${s.name}`));
  const relief = el("input", { name: "relief_percent", type: "number", min: 0, max: 100, step: 1,
    inputMode: "numeric", autocomplete: "off", placeholder: "0-100" });
  const time = el("input", { name: "time", type: "time", value: nowTimeValue(), required: true });
  time.dataset.auto = time.value;
  const freshTime = () => {
    if (time.value === time.dataset.auto) time.value = time.dataset.auto = nowTimeValue();
  };
  const character = el("fieldset", { class: "j-character", "data-field": "detail.character" },
    el("legend", { textContent: "Pain character" }),
    el("div", { class: "chips" }, ...PAIN_CHARACTERS.map((c) =>
      el("label", { class: "chip" },
        el("input", { type: "checkbox", name: "character", value: c }),
        el("span", { textContent: c[0].toUpperCase() + c.slice(1) })))));
  const skin = segmented("skin_colour_change", "Skin colour change",
    [{ value: "true", text: "Yes" }, { value: "false", text: "No" }], "detail.skin_colour_change");
  const note = el("textarea", { name: "note", rows: 2, maxLength: NOTE_MAX, placeholder: "note (optional)" });
  const message = formMessage();
  const withTime = o.time !== false;
  const form = el("form", { class: "journal-form", "aria-label": o.label, noValidate: true },
    el("p", { class: "hint", textContent: "Fill in what the patient reports; empty scales are not charted. Tap a selected value again to clear it." }),
    ...(o.before || []),
    el("div", { class: "row" },
      withTime ? field("Time", time) : null,
      field("Overall relief (%)", relief, { name: "detail.relief_percent" })),
    ...scales, character, skin, field("Note", note, { name: "detail.note" }), message,
    el("div", { class: "form-buttons" },
      el("button", { type: "submit", class: "primary", textContent: o.submitText, "data-action": o.action }),
      el("button", { type: "reset", textContent: "Clear", "data-action": "journal-clear" }),
      o.onCancel ? el("button", { type: "button", textContent: "Cancel", "data-action": "journal-cancel",
        onclick: o.onCancel }) : null));
  const tell = (text, kind = "error") => say(message, text, kind);
  const markInvalid = (nodes) => {
    clearErrors(form);
    for (const n of nodes) n.setAttribute("aria-invalid", "true");
  };
  const groupOf = (name) => form.querySelector(`[data-scale="${name}"]`);
  const fill = (d) => {
    for (const s of JOURNAL_SCALES) setSegmented(groupOf(s.name), typeof d[s.name] === "number" ? d[s.name] : null);
    relief.value = typeof d.relief_percent === "number" ? String(d.relief_percent) : "";
    for (const c of form.querySelectorAll('input[name="character"]')) {
      c.checked = Array.isArray(d.character) && d.character.includes(c.value);
    }
    setSegmented(skin, typeof d.skin_colour_change === "boolean" ? String(d.skin_colour_change) : null);
    note.value = d.note || "";
  };
  if (o.initial) fill(o.initial);

  form.addEventListener("reset", () => {
    setTimeout(() => { // after the browser has reset the inputs
      for (const g of form.querySelectorAll("[data-scale]")) syncSegmented(g);
      time.value = time.dataset.auto = nowTimeValue();
      markInvalid([]);
    });
    tell("");
  });
  form.addEventListener("focusin", freshTime);
  form.addEventListener("pointerdown", freshTime);
  form.addEventListener("input", () => {
    if (message.dataset.kind === "ok") tell("");
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const extra = o.check ? o.check(form) : null;
    if (extra) {
      markInvalid(extra.nodes);
      tell(extra.text);
      return;
    }
    const detail = {};
    for (const s of JOURNAL_SCALES) {
      const picked = form.querySelector(`input[name="${s.name}"]:checked`);
      if (picked) detail[s.name] = Number(picked.value);
    }
    const reliefText = relief.value.trim();
    if (relief.validity.badInput || reliefText !== "") {
      const r = Number(reliefText);
      if (relief.validity.badInput || reliefText === "" || !Number.isFinite(r) || r < 0 || r > 100) {
        markInvalid([relief]);
        tell("Overall relief must be a number from 0 to 100 %.");
        return;
      }
      detail.relief_percent = r;
    }
    if (!Object.keys(detail).length) {
      markInvalid([]);
      tell("Enter at least one score: pain, worst, least, 24 h, movement, affective, punishing or relief.");
      return;
    }
    if ("worst_pain" in detail && "least_pain" in detail && detail.worst_pain < detail.least_pain) {
      markInvalid([groupOf("worst_pain"), groupOf("least_pain")]);
      tell(`Worst daily pain (${detail.worst_pain}) cannot be less than least daily pain (${detail.least_pain}).`);
      return;
    }
    const chars = [...form.querySelectorAll('input[name="character"]:checked')].map((c) => c.value);
    if (chars.length) detail.character = chars;
    const skinPicked = form.querySelector('input[name="skin_colour_change"]:checked');
    if (skinPicked) detail.skin_colour_change = skinPicked.value === "true";
    const noteText = note.value.trim();
    if (noteText.length > NOTE_MAX) {
      markInvalid([note]);
      tell(`The note is ${noteText.length} characters; at most ${NOTE_MAX}.`);
      return;
    }
    if (noteText) detail.note = noteText;
    if (withTime && !time.value) {
      markInvalid([time]);
      tell("Enter the time of the journal.");
      return;
    }
    markInvalid([]);
    tell("");
    const more = {};
    if (withTime && time.value !== time.dataset.auto) more.time = timeInputToPosix(time.value);
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      await o.onSubmit(detail, more);
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.status === 0) tell("Not saved: the server cannot be reached.");
        else {
          showErrors(form, err, null);
          tell(`Not saved — the server refused the entry: ${err.message}`);
        }
      } else throw err;
    } finally {
      submit.disabled = false;
    }
  });
  return { form, say: tell };
}

// ---- reading an entry ----------------------------------------------------------------------

/** "pain 7, worst 9, least 5, movement 6": the journal's scores in display order. */
export function journalScores(d) {
  const parts = JOURNAL_SCALES.filter((s) => typeof d[s.name] === "number")
    .map((s) => (s.name === "affective"
      ? `affective ${d.affective}${AFFECTIVE[d.affective] ? ` (${AFFECTIVE[d.affective]})` : ""}`
      : `${s.short} ${d[s.name]}`));
  if (typeof d.relief_percent === "number") parts.push(`relief ${d.relief_percent} %`);
  return parts;
}

/** Character and skin colour change. */
export function journalExtras(d) {
  const parts = [];
  if (Array.isArray(d.character) && d.character.length) parts.push(d.character.join("/"));
  if (d.skin_colour_change === true) parts.push("skin colour change");
  if (d.skin_colour_change === false) parts.push("no skin colour change");
  return parts;
}

/** "Pain journal: pain 7, worst 9, ..., aching/burning — slept badly". */
export function journalText(d) {
  const text = `Pain journal: ${[...journalScores(d), ...journalExtras(d)].join(", ") || "no scores"}`;
  return d.note ? `${text} — ${d.note}` : text;
}

/** A short label for the trend canvas's event row. */
export function journalShort(e) {
  const d = e.detail || {};
  return typeof d.pain === "number" ? `Pain journal: pain ${d.pain}` : "Pain journal";
}

const score = (d, k) => (typeof d[k] === "number" ? num(d[k], Number.isInteger(d[k]) ? 0 : 1) : "");

/**
 * Journal entries as table rows (first column: the time, or the follow-up's week), with an
 * optional punishing-pain column; the header matches (journalHead).
 */
export function journalRows(entries, { week = false, punishing = false, empty = "No journal entry." } = {}) {
  const rows = entries.map((e) => {
    const d = e.detail || {};
    const extra = journalExtras(d);
    if (d.note) extra.push(d.note);
    return el("tr", { "data-event-id": String(e.id), "data-week": week ? String(e.follow_up_week) : undefined },
      week ? el("th", { scope: "row", title: clockTime(e.time) }, `Week ${e.follow_up_week}`,
        el("span", { class: "when", textContent: dateValue(e.time) }))
        : el("td", { textContent: clockShort(e.time), title: clockTime(e.time) }),
      el("td", { textContent: score(d, "pain") }),
      el("td", { textContent: score(d, "worst_pain") }),
      el("td", { textContent: score(d, "least_pain") }),
      el("td", { textContent: score(d, "pain_24h") }),
      el("td", { textContent: score(d, "affective"),
        title: typeof d.affective === "number" ? AFFECTIVE[Math.round(d.affective)] || "" : "" }),
      punishing ? el("td", { textContent: score(d, "punishing") }) : null,
      el("td", { textContent: score(d, "movement") }),
      el("td", { textContent: typeof d.relief_percent === "number" ? `${score(d, "relief_percent")}\u00a0%` : "" }),
      el("td", { title: extra.join("; ") }, ...breakableName(e.recorded_by || "")));
  });
  const cols = punishing ? 10 : 9;
  return rows.length ? rows
    : [el("tr", { class: "none" }, el("td", { colSpan: cols, textContent: empty }))];
}

export function journalHead({ week = false, punishing = false } = {}) {
  const cols = [[week ? "Week" : "Time"], ["Pain", "Pain now"], ["Worst", "Worst daily pain"],
    ["Least", "Least daily pain"], ["24\u00a0h", "Pain over the past 24 h"],
    ["Aff.", "Affective component (0-4)"],
    ...(punishing ? [["Pun.", "Punishing pain (0-4)"]] : []),
    ["Move", "Ability to initiate movement"], ["Relief", "Overall relief (%)"], ["By"]];
  return el("thead", {}, el("tr", {}, ...cols.map(([h, t]) =>
    el("th", { scope: "col", textContent: h, title: t }))));
}
