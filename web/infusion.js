// The infusion's steps in the bed detail: start with the planned dose (or another, with the
// reason), pause with a reason, resume, stop with a reason (default "completed"), discharge.
// Every step is confirmed and recorded with the signed-in user.

import { el } from "./format.js";
import { act, ApiError } from "./api.js";
import { field, formMessage, say, clearErrors, showErrors, confirmDialog, reasonDialog } from "./forms.js";

const PAUSE_REASONS = ["nausea", "side effect", "patient request", "line problem", "pump alarm"];
const STOP_REASONS = ["completed", "side effect", "patient request", "line problem"];

const mg = (v) => `${Number(v).toLocaleString("en", { maximumFractionDigits: 2 })} mg`;

/** The dose the infusion starts with when no other is given: intended at admission, else planned. */
export function defaultDose(a) {
  return a.dose_mg ?? a.planned_dose_mg ?? null;
}

/**
 * The controls for the session's phase.
 * @param {object} bed the bed (label, id)
 * @param {object} a its admission
 * @param {(admission: object) => void} applied shows an answer at once
 */
export function infusionControls(bed, a, applied) {
  const id = encodeURIComponent(bed.id);
  const parts = [];
  const buttons = el("div", { class: "session-buttons" });
  const button = (text, cls, action, handler) => {
    const b = el("button", { type: "button", class: cls, textContent: text, "data-action": action });
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        await handler();
      } catch {
        /* act() showed why */
      } finally {
        b.disabled = false;
      }
    });
    buttons.append(b);
    return b;
  };
  if (a.phase === "pre_infusion") parts.push(startForm(bed, a, applied));
  if (a.phase === "infusion") {
    button("Pause infusion", "", "infusion-pause", async () => {
      const reason = await reasonDialog("Pause the infusion? Monitoring goes on.", "Pause infusion",
        { label: "Reason for the pause", suggestions: PAUSE_REASONS });
      if (!reason) return;
      applied(await act(`/api/beds/${id}/infusion/pause`, { reason }, "Pause infusion"));
    });
  }
  if (a.phase === "paused") {
    button("Resume infusion", "primary", "infusion-resume", async () => {
      if (!(await confirmDialog("Resume the infusion now?", "Resume infusion"))) return;
      applied(await act(`/api/beds/${id}/infusion/resume`, {}, "Resume infusion"));
    });
  }
  if (a.phase === "infusion" || a.phase === "paused") {
    button("Stop infusion", a.phase === "infusion" ? "primary" : "", "infusion-stop", async () => {
      const reason = await reasonDialog("Stop the infusion now?", "Stop infusion",
        { label: "Reason (completed: the full dose was given)", value: "completed", suggestions: STOP_REASONS });
      if (!reason) return;
      applied(await act(`/api/beds/${id}/infusion/stop`, { reason }, "Stop infusion"));
    });
  }
  button("Discharge", "", "discharge", async () => {
    const cancel = a.phase === "pre_infusion"
      ? ` The infusion has not started: the session is cancelled${a.course_day ? ` and day ${a.course_day} stays open` : ""}.`
      : "";
    if (!(await confirmDialog(`Discharge ${a.patient_label} from ${bed.label}? Monitoring of this bed stops.${cancel}`,
      "Discharge"))) return;
    applied(await act(`/api/beds/${id}/discharge`, {}, "Discharge"));
  });
  parts.push(buttons);
  return parts;
}

/** Start the infusion: the planned dose, or another one with the reason. */
function startForm(bed, a, applied) {
  const planned = a.planned_dose_mg;
  const dose = defaultDose(a);
  const deviate = el("input", { type: "checkbox", name: "deviate" });
  const doseInput = el("input", { name: "dose_mg", type: "number", min: 0, step: "any", inputMode: "decimal",
    autocomplete: "off", value: dose ?? "" });
  const reason = el("input", { name: "deviation_reason", maxLength: 500, autocomplete: "off",
    placeholder: "e.g. doctor's order, patient weight" });
  const other = el("div", { class: "deviation", hidden: true },
    el("div", { class: "row" }, field("Dose to give (mg)", doseInput, { name: "dose_mg" }),
      field("Reason for the different dose", reason, { name: "deviation_reason" })));
  const message = formMessage();
  const plan = [];
  if (a.course_day) plan.push(`Day ${a.course_day}`);
  if (planned !== null && planned !== undefined) plan.push(`planned dose ${mg(planned)}`);
  if (a.dose_mg !== null && a.dose_mg !== undefined && a.dose_mg !== planned) {
    plan.push(`intended at admission ${mg(a.dose_mg)}${a.dose_deviation_reason ? ` (${a.dose_deviation_reason})` : ""}`);
  }
  const form = el("form", { class: "start-form", "aria-label": "Start the infusion", noValidate: true },
    el("p", { class: "dose-plan", textContent: plan.length ? plan.join(" · ") : "No dose planned for this session." }),
    el("label", { class: "check" }, deviate, el("span", { textContent: "Give a different dose" })),
    other, message,
    el("button", { type: "submit", class: "primary", textContent: "Start infusion", "data-action": "infusion-start" }));
  deviate.addEventListener("change", () => {
    other.hidden = !deviate.checked;
    if (deviate.checked) doseInput.focus();
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    say(message, "");
    const body = {};
    let doseText = dose !== null ? `Dose: ${mg(dose)}${dose === planned ? ", as planned" : ""}.` : "";
    if (deviate.checked) {
      if (doseInput.value === "" || doseInput.validity.badInput) {
        showErrors(form, { fields: [{ loc: ["body", "dose_mg"], msg: "Enter the dose to give, in mg." }] }, message);
        return;
      }
      body.dose_mg = Number(doseInput.value);
      if (reason.value.trim()) body.deviation_reason = reason.value.trim();
      doseText = `Dose: ${mg(body.dose_mg)}${planned !== null && planned !== undefined
        ? ` instead of the planned ${mg(planned)}` : ""}${body.deviation_reason ? ` (${body.deviation_reason})` : ""}.`;
    }
    if (!(await confirmDialog("Start infusion now? The baseline will be frozen.", "Start infusion", doseText))) return;
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      applied(await act(`/api/beds/${encodeURIComponent(bed.id)}/infusion/start`, body, "Start infusion",
        { quiet: [422] }));
    } catch (err) {
      if (err instanceof ApiError && err.status === 422) {
        if (err.fields.some((f) => ["dose_mg", "deviation_reason"].includes(String(f.loc.at(-1))))) {
          deviate.checked = true;
          other.hidden = false;
        }
        showErrors(form, err, message, "Not started: ");
      }
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
