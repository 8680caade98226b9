// Patients (#patients): search by name or identifier, the list with the bed each is in,
// and the patient form (register: POST /api/patients; edit: PATCH, only what changed). The
// server's 422s are shown next to the field they name.

import { el, setText } from "./format.js";
import { getJSON, act, ApiError } from "./api.js";
import { state } from "./state.js";
import { field, select, formMessage, say, clearErrors, showErrors } from "./forms.js";
import { vocabulary, humanize } from "./vocab.js";

const SEARCH_DELAY_MS = 250;
const ASA = ["I", "II", "III", "IV", "V", "VI"];

/** A bed id as the unit names it ("Bed 2"). */
export function bedLabel(bedId) {
  return state.beds.get(bedId)?.label || bedId;
}

/** "1981-04-12 (43 y)". */
export function birthText(date) {
  if (!date) return "";
  const born = new Date(`${date}T00:00:00`);
  const now = new Date();
  let years = now.getFullYear() - born.getFullYear();
  if (now < new Date(now.getFullYear(), born.getMonth(), born.getDate())) years -= 1;
  return `${date} (${years} y)`;
}

/** The patient list: search box and table. Returns its root. */
export function patientsView() {
  const search = el("input", { type: "search", name: "q", autocomplete: "off", maxLength: 80,
    placeholder: "name or identifier", "aria-controls": "patients-table" });
  const count = el("p", { class: "hint", role: "status" });
  const body = el("tbody");
  const formBox = el("div", { class: "register-box", hidden: true });
  const registerButton = el("button", { type: "button", class: "primary", textContent: "Register patient",
    "data-action": "register-open", "aria-expanded": "false" });
  const title = el("h2", { tabIndex: -1, textContent: "Patients" });
  const root = el("div", { class: "records-page patients-page" },
    el("header", { class: "records-head" },
      el("a", { class: "back", href: "#", textContent: "← All beds" }), title, registerButton),
    formBox,
    el("div", { class: "search-row" }, field("Search by name or identifier", search, { cls: "search-field" }), count),
    el("div", { class: "table-wrap" },
      el("table", { class: "records-table patients-table", id: "patients-table", "aria-label": "Patients" },
        el("thead", {}, el("tr", {}, ...["Identifier", "Name", "Birth date", "Sex", "Bed"].map((h) =>
          el("th", { scope: "col", textContent: h })))),
        body)));

  let seq = 0;
  let timer = null;
  const load = async () => {
    const mine = ++seq;
    const q = search.value.trim();
    try {
      const found = await getJSON(`/api/patients?${new URLSearchParams({ q, limit: "200" })}`);
      if (mine !== seq) return;
      body.replaceChildren(...(found.length ? found.map(patientRow)
        : [el("tr", { class: "none" }, el("td", { colSpan: 5,
          textContent: q ? `No patient matches “${q}”.` : "No patient registered yet." }))]));
      setText(count, `${found.length} patient${found.length === 1 ? "" : "s"}${q ? ` matching “${q}”` : ""}`);
    } catch (err) {
      if (mine === seq) setText(count, `Patients unavailable: ${err.message}`);
    }
  };
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(load, SEARCH_DELAY_MS);
  });
  registerButton.addEventListener("click", async () => {
    const opening = formBox.hidden;
    formBox.hidden = !opening;
    registerButton.setAttribute("aria-expanded", String(opening));
    if (!opening) return;
    const form = await patientForm({
      onSaved: (p) => { location.hash = `#patient/${p.id}`; },
      onCancel: () => {
        formBox.hidden = true;
        registerButton.setAttribute("aria-expanded", "false");
        registerButton.focus();
      },
    });
    formBox.replaceChildren(form);
    form.querySelector("input")?.focus();
  });
  load();
  return { root, title };
}

function patientRow(p) {
  return el("tr", { "data-patient-id": String(p.id) },
    el("td", { class: "mono", textContent: p.identifier }),
    el("td", {}, el("a", { href: `#patient/${p.id}`, textContent: p.display_name })),
    el("td", { textContent: p.birth_date || "" }),
    el("td", { textContent: p.sex || "" }),
    el("td", {}, p.bed_id ? el("a", { href: `#bed/${encodeURIComponent(p.bed_id)}`, textContent: bedLabel(p.bed_id) }) : ""));
}

/**
 * The patient form: register (no `patient`) or edit. Resolves to the form element.
 * @param {object} o
 * @param {object} [o.patient] the patient to edit (PATCH sends only what changed)
 * @param {(patient: object) => void} o.onSaved
 * @param {() => void} [o.onCancel]
 */
export async function patientForm({ patient = null, onSaved, onCancel }) {
  let vocab;
  try {
    vocab = await vocabulary();
  } catch (err) {
    return el("p", { class: "form-message", role: "alert",
      textContent: `The patient form cannot open: its lists did not load from the server (${err.message}). Try again.` });
  }
  const p = patient || { diagnosis: "CRPS", medications: [] };
  const text = (name, value, attrs = {}) => el("input", { name, value: value ?? "", autocomplete: "off", ...attrs });
  const number = (name, value, attrs = {}) => el("input", { name, type: "number", step: "any", inputMode: "decimal",
    value: value ?? "", autocomplete: "off", ...attrs });
  const inputs = {
    identifier: text("identifier", p.identifier, { maxLength: 64, required: true, spellcheck: false }),
    family_name: text("family_name", p.family_name, { maxLength: 80, required: true }),
    given_name: text("given_name", p.given_name, { maxLength: 80 }),
    birth_date: el("input", { name: "birth_date", type: "date", value: p.birth_date || "" }),
    sex: select("sex", [["", "—"], ...vocab.sexes.map((s) => [s, s === "F" ? "F (female)" : s === "M" ? "M (male)" : s])], p.sex),
    weight_kg: number("weight_kg", p.weight_kg, { min: 0 }),
    height_cm: number("height_cm", p.height_cm, { min: 0 }),
    asa_class: select("asa_class", [["", "—"], ...vocab.asa_classes.map((c) => [c, `${ASA[c - 1] || c} (${c})`])], p.asa_class),
    diagnosis: text("diagnosis", p.diagnosis, { maxLength: 120 }),
    crps_type: select("crps_type", [["", "—"], ...vocab.crps_types.map((t) => [t, `CRPS ${t}`])], p.crps_type),
    affected_limb: select("affected_limb", [["", "—"], ...vocab.limbs.map((l) => [l, humanize(l)])], p.affected_limb),
  };
  const meds = medicationList(p.medications || []);
  const message = formMessage();
  const editing = Boolean(patient);
  const form = el("form", { class: "patient-form", "aria-label": editing ? "Edit patient" : "Register a patient", noValidate: true },
    el("h3", { textContent: editing ? `Edit ${patient.display_name}` : "Register a patient" }),
    el("div", { class: "form-grid" },
      field("Identifier (MRN) *", inputs.identifier),
      field("Family name *", inputs.family_name),
      field("Given name", inputs.given_name),
      field("Birth date", inputs.birth_date),
      field("Sex", inputs.sex),
      field("ASA physical status", inputs.asa_class),
      field("Weight (kg)", inputs.weight_kg),
      field("Height (cm)", inputs.height_cm),
      field("Diagnosis", inputs.diagnosis),
      field("CRPS type", inputs.crps_type),
      field("Affected limb", inputs.affected_limb)),
    meds.root, message,
    el("div", { class: "form-buttons" },
      el("button", { type: "submit", class: "primary", textContent: editing ? "Save changes" : "Register patient",
        "data-action": editing ? "patient-save" : "patient-register" }),
      onCancel ? el("button", { type: "button", textContent: "Cancel", onclick: onCancel }) : null));

  const values = () => {
    const out = {};
    for (const [k, input] of Object.entries(inputs)) {
      const raw = input.value.trim();
      if (input.type === "number") {
        if (input.validity.badInput) throw { loc: ["body", k], msg: "a number" };
        out[k] = raw === "" ? null : Number(raw);
      } else if (k === "asa_class") out[k] = raw === "" ? null : Number(raw);
      else out[k] = raw === "" ? null : raw;
    }
    out.medications = meds.values();
    return out;
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    say(message, "");
    let all;
    try {
      all = values();
    } catch (bad) {
      showErrors(form, { fields: [bad] }, message);
      return;
    }
    const missing = ["identifier", "family_name"].filter((k) => !all[k]);
    if (missing.length) {
      showErrors(form, { fields: missing.map((k) => ({ loc: ["body", k], msg: "Required." })) }, message);
      return;
    }
    let body;
    if (editing) {
      body = {};
      for (const [k, v] of Object.entries(all)) {
        const was = patient[k] ?? null;
        const same = Array.isArray(v) ? JSON.stringify(v) === JSON.stringify(was || []) : (was === "" ? null : was) === v;
        if (!same) body[k] = v;
      }
      if (!Object.keys(body).length) {
        say(message, "Nothing changed.", "ok");
        return;
      }
    } else {
      body = Object.fromEntries(Object.entries(all).filter(([, v]) => v !== null && !(Array.isArray(v) && !v.length)));
    }
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const saved = editing
        ? await act(`/api/patients/${patient.id}`, body, "Save patient", { method: "PATCH", quiet: [422, 409] })
        : await act("/api/patients", body, "Register patient", { quiet: [422, 409] });
      say(message, editing ? "Saved." : `Registered ${saved.display_name} (${saved.identifier}).`, "ok");
      onSaved(saved);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 422 || err.status === 409)) {
        showErrors(form, err, message, editing ? "Not saved: " : "Not registered: ");
      }
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

/** The usual medication as an editable list: one drug per line, add and remove. */
function medicationList(initial) {
  const list = el("ul", { class: "med-list" });
  const add = el("button", { type: "button", textContent: "Add medication", "data-action": "medication-add" });
  const root = el("fieldset", { class: "medications", "data-field": "medications" },
    el("legend", { textContent: "Usual medication" }), list, add);
  const renumber = () => {
    [...list.children].forEach((li, i) => {
      li.querySelector("input").setAttribute("aria-label", `Medication ${i + 1}`);
      li.querySelector("button").setAttribute("aria-label", `Remove medication ${i + 1}`);
    });
  };
  const item = (value = "") => {
    const input = el("input", { name: "medication", value, maxLength: 120, autocomplete: "off",
      placeholder: "drug and dose, e.g. gabapentin 300 mg" });
    const remove = el("button", { type: "button", class: "link-button", textContent: "Remove" });
    const li = el("li", {}, input, remove);
    remove.addEventListener("click", () => {
      li.remove();
      renumber();
      add.focus();
    });
    list.append(li);
    renumber();
    return input;
  };
  for (const m of initial) item(m);
  if (!initial.length) item();
  add.addEventListener("click", () => item().focus());
  return { root, values: () => [...list.querySelectorAll("input")].map((i) => i.value.trim()).filter(Boolean) };
}
