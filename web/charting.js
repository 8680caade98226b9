// Charting on the bed's session: premedication (checked against the plan), side effects,
// the one journal of the session (saved, then amended), voiding an entry charted in error,
// and how each entry and its corrections read in the timeline. The server keeps every
// version: an amendment replaces an entry, a void marks it; both say who, when and why.

import { el, clockTime, clockShort } from "./format.js";
import { act, ApiError } from "./api.js";
import {
  field, select, formMessage, say, segmented, clearErrors, showErrors, clockInput, chosenTime,
  resetClock, timeInputToPosix, reasonDialog,
} from "./forms.js";
import { humanize, drugPlan, planText, offPlan } from "./vocab.js";
import { journalForm, journalText, journalShort, JOURNAL_SCALES, AFFECTIVE, journalExtras } from "./journal.js";

const SEVERITIES = ["mild", "moderate", "severe"];

/** One line of text for a charted entry ("Premedication: midazolam 3 mg IV"). */
export function eventText(e) {
  const d = e.detail || {};
  let text;
  if (e.kind === "premedication") {
    text = `Premedication: ${d.drug || "?"}${d.dose_mg ? ` ${d.dose_mg} mg` : ""}${d.route ? ` ${d.route}` : ""}`;
    if (d.deviation_reason) text += ` (off the plan: ${d.deviation_reason})`;
  } else if (e.kind === "side_effect") {
    text = `Side effect: ${d.effect || "?"}${d.severity ? `, ${d.severity}` : ""}`;
    if (d.intervention) text += `; intervention: ${d.intervention}`;
    if (d.resolved_at) text += `; resolved ${clockShort(d.resolved_at)}`;
  } else if (e.kind === "journal") {
    return `${journalText(d)} (${e.recorded_by})`;
  } else text = humanize(e.kind);
  if (d.note) text += ` — ${d.note}`;
  return `${text} (${e.recorded_by})`;
}

/** A few words for the trend canvas's event row ("midazolam 5 mg", "headache"). */
export function shortText(e) {
  const d = e.detail || {};
  if (e.kind === "premedication") return `${d.drug || "?"}${d.dose_mg ? ` ${d.dose_mg} mg` : ""}`;
  if (e.kind === "side_effect") return d.effect || "side effect";
  if (e.kind === "journal") return journalShort(e);
  return humanize(e.kind);
}

/** Current entries: neither voided nor replaced by an amendment. */
export function currentEntries(history) {
  return history.filter((e) => !e.voided && !e.amended);
}

/**
 * What happened to an entry: "amended 10:42 by dr.lee: “…”" (it was replaced), "voided …",
 * or for an amendment "amendment 10:42 by …: “…”". `history` finds who replaced it.
 */
export function correctionText(e, history) {
  if (e.voided) return `voided ${clockShort(e.voided_at)} by ${e.voided_by}: “${e.correction_reason}”`;
  if (e.amended) {
    const next = history.find((x) => x.id === e.superseded_by);
    return next ? `amended ${clockShort(next.recorded_at)} by ${next.recorded_by}: “${next.correction_reason}”`
      : "amended";
  }
  if (e.supersedes) return `amendment ${clockShort(e.recorded_at)} by ${e.recorded_by}: “${e.correction_reason}”`;
  return "";
}

/** The entry's status for styling and tests: current, amended (replaced) or voided. */
export function entryStatus(e) {
  return e.voided ? "voided" : e.amended ? "amended" : "current";
}

/** Ask for a reason and void the entry. Resolves true when it was voided. */
export async function voidEntry(e) {
  const reason = await reasonDialog(`Void this entry? ${eventText(e)}. It stays in the record, marked void.`,
    "Void entry", { label: "Why is it void?", suggestions: ["charted in error", "charted on the wrong patient", "duplicate entry"] });
  if (!reason) return false;
  try {
    await act(`/api/events/${e.id}/void`, { reason }, "Void entry");
    return true;
  } catch {
    return false; // shown by act()
  }
}

/** A timeline item for a charted entry with its corrections; a current one gets a Void
 * button when `onChanged` (called after voiding) is given. */
export function entryItem(e, history, onChanged) {
  const status = entryStatus(e);
  const text = eventText(e);
  const correction = correctionText(e, history);
  const li = el("li", { "data-kind": e.kind, "data-status": status, "data-event-id": String(e.id) },
    el("time", { textContent: clockTime(e.time) }), " ",
    status === "current" ? el("span", { class: "entry-text", textContent: text })
      : el("del", { class: "entry-text", textContent: text }),
    correction ? el("span", { class: `correction ${status}`, textContent: ` · ${correction}` }) : null);
  if (status === "current" && onChanged) {
    const b = el("button", { type: "button", class: "link-button", "data-action": "void", textContent: "Void",
      "aria-label": `Void: ${text}` });
    b.addEventListener("click", async () => {
      if (await voidEntry(e)) onChanged();
    });
    li.append(" ", b);
  }
  return li;
}

// ---- premedication and side effects ---------------------------------------------------------

/** The premedication form: drug, dose and route from the plan; a reason when off it. */
export function premedicationForm(bedId, vocab, open, onCharted) {
  const drugs = vocab.premedications.map((d) => [d, humanize(d)]);
  const drug = select("drug", drugs, drugs[0]?.[0]);
  const dose = el("input", { name: "dose_mg", type: "number", min: 0, step: "any", inputMode: "decimal", autocomplete: "off" });
  const route = select("route", [["", "—"], ...vocab.routes.map((r) => [r, r])]);
  const reason = el("input", { name: "deviation_reason", maxLength: 500, autocomplete: "off",
    placeholder: "why the dose or route differs from the plan" });
  const note = el("input", { name: "note", maxLength: 500, autocomplete: "off", placeholder: "optional" });
  const time = clockInput("time");
  const hint = el("p", { class: "plan-hint", "aria-live": "polite" });
  const reasonField = field("Reason for the deviation", reason, { name: "detail.deviation_reason" });
  const message = formMessage();
  const form = el("form", { class: "premed-form", "aria-label": "Chart premedication", noValidate: true },
    el("div", { class: "row" }, field("Drug", drug, { name: "detail.drug" }),
      field("Dose (mg)", dose, { name: "detail.dose_mg" }), field("Route", route, { name: "detail.route" })),
    hint, reasonField,
    el("div", { class: "row" }, field("Time given", time, { name: "time" }), field("Note", note, { name: "detail.note" })),
    message,
    el("button", { type: "submit", class: "primary", textContent: "Chart premedication", "data-action": "premedication" }));
  const planned = () => drugPlan(vocab, drug.value);
  const sync = () => {
    const p = planned();
    const off = offPlan(p, dose.value === "" ? null : Number(dose.value), route.value);
    hint.textContent = p ? `${off ? "Off the plan" : "Plan"}: ${planText(p)}${off ? ". Give the reason." : "."}`
      : "Not in the plan: name the drug in the note.";
    hint.dataset.off = off ? "true" : "false";
    // Shown when off the plan (or when the server asked for it); never hidden while filled.
    reasonField.hidden = !off && !reason.value && !reasonField.hasAttribute("aria-invalid");
  };
  const setDefaults = () => {
    const p = planned();
    dose.value = p ? String(p.low_mg) : "";
    route.value = p ? p.route : "";
    sync();
  };
  for (const ev of ["focusin", "pointerdown"]) form.addEventListener(ev, () => time.follow());
  drug.addEventListener("change", setDefaults);
  dose.addEventListener("input", sync);
  route.addEventListener("change", sync);
  setDefaults();
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    say(message, "");
    const detail = { drug: drug.value };
    if (dose.validity.badInput) {
      showErrors(form, { fields: [{ loc: ["body", "detail", "dose_mg"], msg: "Enter the dose as a number of mg." }] }, message);
      return;
    }
    if (dose.value !== "") detail.dose_mg = Number(dose.value);
    if (route.value) detail.route = route.value;
    if (reason.value.trim()) detail.deviation_reason = reason.value.trim();
    if (note.value.trim()) detail.note = note.value.trim();
    const body = { kind: "premedication", detail, time: chosenTime(time) };
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const res = await act(`/api/beds/${encodeURIComponent(bedId)}/events`, body, "Premedication", { quiet: [422] });
      say(message, `Charted: ${eventText(res)}`, "ok");
      reason.value = "";
      note.value = "";
      resetClock(time);
      setDefaults();
      onCharted();
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        showErrors(form, err, message);
        sync();
      }
    } finally {
      submit.disabled = false;
    }
  });
  return el("details", { class: "chart-box premed-box", open },
    el("summary", { textContent: "Premedication" }), form);
}

/** The side-effect form: effect, severity, intervention, onset and resolution. */
export function sideEffectForm(bedId, vocab, open, onCharted) {
  const effect = select("effect", vocab.side_effects.map((s) => [s, humanize(s)]), vocab.side_effects[0]);
  const severity = segmented("severity", "Severity", SEVERITIES.map((s) => ({ value: s, text: humanize(s) })),
    "detail.severity");
  const intervention = el("input", { name: "intervention", maxLength: 500, autocomplete: "off",
    placeholder: "none, or what was done" });
  const onset = clockInput("onset");
  const resolved = el("input", { name: "resolved_at", type: "time" });
  const note = el("input", { name: "note", maxLength: 500, autocomplete: "off", placeholder: "optional (required for other)" });
  const message = formMessage();
  const form = el("form", { class: "side-effect-form", "aria-label": "Chart a side effect", noValidate: true },
    field("Side effect", effect, { name: "detail.effect" }), severity,
    field("Intervention", intervention, { name: "detail.intervention" }),
    el("div", { class: "row" }, field("Onset", onset, { name: "detail.onset" }),
      field("Resolved (if so)", resolved, { name: "detail.resolved_at" })),
    field("Note", note, { name: "detail.note" }), message,
    el("button", { type: "submit", class: "primary", textContent: "Chart side effect", "data-action": "side-effect" }));
  for (const ev of ["focusin", "pointerdown"]) form.addEventListener(ev, () => onset.follow());
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    say(message, "");
    const at = chosenTime(onset);
    const detail = { effect: effect.value, onset: at };
    const sev = form.querySelector('input[name="severity"]:checked');
    if (sev) detail.severity = sev.value;
    if (intervention.value.trim()) detail.intervention = intervention.value.trim();
    if (resolved.value) detail.resolved_at = timeInputToPosix(resolved.value);
    if (note.value.trim()) detail.note = note.value.trim();
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const res = await act(`/api/beds/${encodeURIComponent(bedId)}/events`,
        { kind: "side_effect", detail, time: at }, "Side effect", { quiet: [422] });
      say(message, `Charted: ${eventText(res)}`, "ok");
      form.reset();
      severity.dispatchEvent(new Event("change"));
      resetClock(onset);
      onCharted();
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) showErrors(form, err, message);
    } finally {
      submit.disabled = false;
    }
  });
  return el("details", { class: "chart-box side-effect-box", open },
    el("summary", { textContent: "Side effect" }), form);
}

// ---- the session's journal -------------------------------------------------------------------

/**
 * The session's pain journal: the form until it is saved, then the saved entry with
 * "Amend" (the form again, filled, with a reason) and "Void".
 */
export class JournalBox {
  constructor(bedId, open, onChanged) {
    this.bedId = bedId;
    this.onChanged = onChanged;
    this.entry = undefined; // the current journal entry; undefined until known
    this.mode = "new";
    this.status = el("p", { class: "journal-status", role: "status", hidden: true });
    this.body = el("div", { class: "journal-body" });
    this.root = el("details", { class: "journal-box", open },
      el("summary", { textContent: "Pain journal (before the infusion)" }), this.status, this.body);
    this.showForm();
  }

  /** The session's entries changed: show the current journal (unless the nurse is amending). */
  show(history) {
    const entry = currentEntries(history).find((e) => e.kind === "journal") || null;
    this.history = history;
    if (this.mode === "amend") return;
    if (entry?.id === this.entry?.id && (entry || this.entry === null)) return;
    this.entry = entry;
    if (entry) this.showSaved();
    else if (this.mode !== "new") this.showForm();
  }

  tell(text) {
    this.status.textContent = text;
    this.status.hidden = !text;
  }

  showForm() {
    this.mode = "new";
    const { form } = journalForm({
      label: "Pain journal", submitText: "Save pain journal", action: "journal",
      onSubmit: async (detail, more) => {
        try {
          const res = await act(`/api/beds/${encodeURIComponent(this.bedId)}/events`,
            { kind: "journal", detail, ...more }, "Pain journal", { quiet: [422, 409] });
          this.tell(`Pain journal saved (${clockShort(res.time)}).`);
          this.entry = res;
          this.showSaved();
          this.onChanged();
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) this.onChanged(); // another station saved one
          throw err;
        }
      },
    });
    this.body.replaceChildren(form);
  }

  showSaved() {
    this.mode = "saved";
    const e = this.entry;
    const d = e.detail || {};
    const items = JOURNAL_SCALES.filter((s) => typeof d[s.name] === "number").map((s) =>
      [s.label, s.name === "affective" ? `${d.affective} (${AFFECTIVE[d.affective] || ""})` : String(d[s.name])]);
    if (typeof d.relief_percent === "number") items.push(["Overall relief", `${d.relief_percent} %`]);
    const extras = journalExtras(d);
    if (extras.length) items.push(["Also", extras.join(", ")]);
    if (d.note) items.push(["Note", d.note]);
    const amendment = e.supersedes ? correctionText(e, this.history || []) : "";
    const amend = el("button", { type: "button", textContent: "Amend", "data-action": "journal-amend" });
    const voidButton = el("button", { type: "button", textContent: "Void", "data-action": "void" });
    amend.addEventListener("click", () => this.showAmend());
    voidButton.addEventListener("click", async () => {
      if (await voidEntry(e)) {
        this.tell("Pain journal voided: a new one can be charted.");
        this.entry = null;
        this.showForm();
        this.onChanged();
      }
    });
    this.body.replaceChildren(el("div", { class: "journal-saved", "data-event-id": String(e.id) },
      el("p", { class: "saved-by", textContent: `Charted ${clockShort(e.time)} by ${e.recorded_by}` +
        `${e.late ? " (after the infusion start)" : ""}` }),
      amendment ? el("p", { class: "amended-note", textContent: humanize(amendment) }) : null,
      el("dl", { class: "journal-scores" }, ...items.flatMap(([k, v]) =>
        [el("dt", { textContent: k }), el("dd", { textContent: v })])),
      el("div", { class: "form-buttons" }, amend, voidButton)));
  }

  showAmend() {
    this.mode = "amend";
    const e = this.entry;
    const reason = el("input", { name: "reason", maxLength: 500, autocomplete: "off",
      placeholder: "why the entry is corrected (required)" });
    const { form } = journalForm({
      label: "Amend the pain journal", submitText: "Save amendment", action: "journal-amend-save",
      time: false, initial: e.detail,
      before: [el("p", { class: "hint", textContent: `Correcting the entry of ${clockShort(e.time)}: the original stays in the record.` }),
        field("Reason for the amendment", reason, { name: "reason" })],
      check: () => (reason.value.trim().length < 3
        ? { text: "Give the reason for the amendment (at least 3 characters).", nodes: [reason] } : null),
      onCancel: () => {
        this.tell("");
        this.showSaved();
      },
      onSubmit: async (detail) => {
        try {
          const res = await act(`/api/events/${e.id}/amend`, { reason: reason.value.trim(), detail },
            "Amend journal", { quiet: [422, 409] });
          this.tell(`Pain journal amended (${clockShort(res.recorded_at)}).`);
          this.entry = res;
          this.showSaved();
          this.onChanged();
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            // corrected meanwhile at another station: show what is current now
            this.tell(`Not amended: ${err.message}.`);
            this.mode = "saved";
            this.entry = undefined;
            this.onChanged();
            return;
          }
          throw err;
        }
      },
    });
    this.body.replaceChildren(form);
    reason.focus();
  }
}
