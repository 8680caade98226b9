// Admission by picking a patient (bed detail of a free bed): search, pick, see their next
// course day and planned dose, admit ({"patient_id": N}); or register a new patient first.
// A refusal (the patient in another bed, the bed taken) is said in the form.

import { el, setText } from "./format.js";
import { getJSON, act, ApiError } from "./api.js";
import { field, formMessage, say } from "./forms.js";
import { patientForm, bedLabel } from "./patients.js";
import { state } from "./state.js";

const SEARCH_DELAY_MS = 250;
const mg = (v) => `${Number(v).toLocaleString("en", { maximumFractionDigits: 2 })} mg`;

/** The bed the patient is in now (live picture), if any. */
function bedOf(patientId) {
  for (const bed of state.beds.values()) {
    const a = bed.admission;
    if (a && a.patient_id === patientId && !["discharged", "cancelled"].includes(a.phase)) return bed;
  }
  return null;
}

/** What admitting the patient will give: "Day 3 of 10 · planned 50 mg", or why it cannot. */
function nextSession(patient, bed) {
  const inBed = bedOf(patient.id);
  if (inBed && inBed.id !== bed.id) return { text: `In ${inBed.label} now: discharge there first.`, ok: false };
  const course = (patient.courses || []).find((c) => c.status === "active");
  if (!course) return { text: "No active course: admitting opens one with the protocol's plan (day 1, 40 mg).", ok: true };
  for (let d = 1; d <= course.planned_sessions; d++) {
    if (!course.days_done.includes(d)) {
      return { text: `Day ${d} of ${course.planned_sessions} · planned dose ${mg(course.planned_doses_mg[d - 1])}`, ok: true, day: d };
    }
  }
  return { text: `All ${course.planned_sessions} days of the course are done: open a new course on the patient's page.`, ok: false };
}

/**
 * The admit picker for a free bed.
 * @param {object} bed
 * @param {(admission: object) => void} admitted
 */
export function admitPicker(bed, admitted) {
  const search = el("input", { type: "search", name: "q", autocomplete: "off", maxLength: 80,
    placeholder: "name or identifier", "aria-controls": `pick-${bed.id}` });
  const results = el("ul", { class: "pick-list", id: `pick-${bed.id}`, "aria-label": "Patients found" });
  const count = el("p", { class: "hint", role: "status" });
  const picked = el("div", { class: "picked", hidden: true });
  const message = formMessage();
  const register = el("button", { type: "button", textContent: "Register a new patient", "data-action": "register-open" });
  const registerBox = el("div", { class: "register-box", hidden: true });
  const root = el("div", { class: "admit-form", role: "group", "aria-label": "Admit a patient" },
    el("p", { class: "hint", textContent: `${bed.label} is free. Find the patient to admit: monitoring and baseline collection start.` }),
    field("Find patient (name or identifier)", search), count, results, picked, message,
    el("div", { class: "form-buttons" }, register), registerBox);

  let seq = 0;
  let timer = null;
  const load = async () => {
    const mine = ++seq;
    const q = search.value.trim();
    try {
      const found = await getJSON(`/api/patients?${new URLSearchParams({ q, limit: "20" })}`);
      if (mine !== seq) return;
      results.replaceChildren(...found.map((p) => {
        const elsewhere = p.bed_id && p.bed_id !== bed.id;
        const b = el("button", { type: "button", class: "pick", "data-patient-id": String(p.id), "data-action": "pick" },
          el("span", { class: "pick-name", textContent: p.display_name }),
          el("span", { class: "pick-meta", textContent: [p.identifier, p.birth_date, p.sex].filter(Boolean).join(" · ") }),
          elsewhere ? el("span", { class: "pick-bed", textContent: `in ${bedLabel(p.bed_id)}` }) : null);
        b.addEventListener("click", () => pick(p.id));
        return el("li", {}, b);
      }));
      setText(count, found.length ? `${found.length} patient${found.length === 1 ? "" : "s"}${q ? ` matching “${q}”` : ""}`
        : q ? `No patient matches “${q}”: register them below.` : "No patient registered yet: register one below.");
    } catch (err) {
      if (mine === seq) setText(count, `Patients unavailable: ${err.message}`);
    }
  };

  const pick = async (id) => {
    say(message, "");
    let p;
    try {
      p = await getJSON(`/api/patients/${id}`);
    } catch (err) {
      say(message, `Patient unavailable: ${err.message}`);
      return;
    }
    const next = nextSession(p, bed);
    const admit = el("button", { type: "button", class: "primary", textContent: `Admit to ${bed.label}`,
      "data-action": "admit", disabled: !next.ok });
    const other = el("button", { type: "button", textContent: "Choose another", "data-action": "pick-again" });
    other.addEventListener("click", () => {
      picked.hidden = true;
      results.hidden = false;
      say(message, "");
      search.focus();
    });
    admit.addEventListener("click", async () => {
      admit.disabled = true;
      say(message, "");
      try {
        admitted(await act(`/api/beds/${encodeURIComponent(bed.id)}/admit`, { patient_id: p.id }, "Admit",
          { quiet: [409, 422] }));
      } catch (err) {
        if (err instanceof ApiError && err.status) refused(err);
      } finally {
        admit.disabled = !next.ok;
      }
    });
    picked.replaceChildren(
      el("p", { class: "picked-name" }, el("strong", { textContent: p.display_name }), ` · ${p.identifier}`),
      el("p", { class: "picked-meta", textContent: [p.birth_date && `born ${p.birth_date}`, p.sex,
        p.weight_kg && `${p.weight_kg} kg`].filter(Boolean).join(" · ") }),
      el("p", { class: "picked-next", textContent: next.text }),
      el("div", { class: "form-buttons" }, admit, other));
    picked.hidden = false;
    results.hidden = true;
    admit.focus();
  };

  const refused = (err) => {
    const m = /already in bed (\S+)/.exec(err.message);
    say(message, `Not admitted: ${err.message.replace(/bed (\S+)/g, (_, id) => bedLabel(id))}.`);
    if (m) {
      message.append(" ", el("a", { href: `#bed/${encodeURIComponent(m[1])}`, textContent: `Open ${bedLabel(m[1])}` }));
    }
  };

  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(load, SEARCH_DELAY_MS);
  });
  register.addEventListener("click", async () => {
    const opening = registerBox.hidden;
    registerBox.hidden = !opening;
    if (!opening) return;
    registerBox.replaceChildren(await patientForm({
      onSaved: (p) => {
        registerBox.hidden = true;
        search.value = p.identifier;
        load();
        pick(p.id);
      },
      onCancel: () => {
        registerBox.hidden = true;
        register.focus();
      },
    }));
    registerBox.querySelector("input")?.focus();
  });
  load();
  return root;
}
