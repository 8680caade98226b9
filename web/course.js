// A patient's page (#patient/<id>): identity, courses with their dose plan day by day and
// the sessions given (each linking to the past session), opening a course, follow-up
// journals by week, and the course report PDF.

import { el, setText } from "./format.js";
import { getJSON, act } from "./api.js";
import { state } from "./state.js";
import { field, confirmDialog, dateValue, dateTime } from "./forms.js";
import { humanize } from "./vocab.js";
import { journalForm, journalRows, journalHead } from "./journal.js";
import { patientForm, bedLabel, birthText } from "./patients.js";

const FOLLOW_UP_WEEKS = [2, 6, 9, 12];
const ASA = ["I", "II", "III", "IV", "V", "VI"];
const mg = (v) => (v === null || v === undefined ? "" : `${Number(v).toLocaleString("en", { maximumFractionDigits: 2 })} mg`);

/** The bed a patient is in now, from the live picture. */
function bedOf(patientId) {
  for (const bed of state.beds.values()) {
    const a = bed.admission;
    if (a && a.patient_id === patientId && a.phase !== "discharged") return bed;
  }
  return null;
}

export function patientPage(patientId) {
  const title = el("h2", { tabIndex: -1, textContent: "Patient" });
  const body = el("div", { class: "patient-body" }, el("p", { class: "hint", textContent: "Loading…" }));
  const root = el("div", { class: "records-page patient-page", "data-patient-id": String(patientId) },
    el("header", { class: "records-head" },
      el("a", { class: "back", href: "#patients", textContent: "← Patients" }), title),
    body);

  const load = async () => {
    let patient;
    try {
      patient = await getJSON(`/api/patients/${patientId}`);
    } catch (err) {
      body.replaceChildren(el("p", { class: "detail-missing", textContent: `Patient unavailable: ${err.message}` }));
      return;
    }
    const courses = await Promise.all(patient.courses.map((c) =>
      getJSON(`/api/courses/${c.id}`).catch(() => ({ ...c, sessions: [], follow_ups: [] }))));
    setText(title, `${patient.display_name}`);
    body.replaceChildren(identity(patient, load), ...courseSections(patient, courses, load));
  };
  load();
  return { root, title };
}

function identity(p, reload) {
  const bed = bedOf(p.id);
  const facts = [
    ["Identifier", p.identifier],
    ["Birth date", birthText(p.birth_date)],
    ["Sex", p.sex || ""],
    ["Weight", p.weight_kg ? `${p.weight_kg} kg` : ""],
    ["Height", p.height_cm ? `${p.height_cm} cm` : ""],
    ["ASA", p.asa_class ? `${ASA[p.asa_class - 1]} (${p.asa_class})` : ""],
    ["Diagnosis", [p.diagnosis, p.crps_type ? `type ${p.crps_type}` : ""].filter(Boolean).join(" ")],
    ["Affected limb", p.affected_limb ? humanize(p.affected_limb) : ""],
  ];
  const edit = el("button", { type: "button", textContent: "Edit details", "data-action": "patient-edit" });
  const box = el("section", { class: "identity", "aria-label": "Identity" });
  const reportOk = p.birth_date && p.sex;
  const report = reportOk
    ? el("a", { class: "button", href: `/api/reports/course/${encodeURIComponent(p.identifier)}.pdf`,
      target: "_blank", rel: "noopener", textContent: "Course report (PDF)", "data-action": "course-report" })
    : el("span", { class: "hint", textContent: "The course report needs the birth date and sex." });
  const show = () => box.replaceChildren(
    el("dl", { class: "facts-grid" }, ...facts.flatMap(([k, v]) =>
      [el("dt", { textContent: k }), el("dd", { textContent: v || "—" })]),
    el("dt", { textContent: "Usual medication" }),
    el("dd", { class: "wide" }, p.medications.length
      ? el("ul", { class: "plain-list" }, ...p.medications.map((m) => el("li", { textContent: m })))
      : "—"),
    el("dt", { textContent: "Now" }),
    el("dd", {}, bed ? el("a", { href: `#bed/${encodeURIComponent(bed.id)}`, textContent: `in ${bed.label}` }) : "not in a bed")),
    el("div", { class: "form-buttons" }, edit, report));
  edit.addEventListener("click", async () => {
    box.replaceChildren(await patientForm({ patient: p, onSaved: () => reload(), onCancel: show }));
    box.querySelector("input")?.focus();
  });
  show();
  return box;
}

function courseSections(patient, courses, reload) {
  const out = [];
  const active = courses.find((c) => c.status === "active");
  if (!active) {
    const open = el("button", { type: "button", class: "primary", textContent: "Open a course", "data-action": "course-open" });
    open.addEventListener("click", async () => {
      if (!(await confirmDialog(`Open a course for ${patient.display_name}?`, "Open course",
        "The protocol's plan: 10 infusions of 4 hours, 40 mg on day 1 rising by 5 mg a day to at most 80 mg."))) return;
      try {
        await act(`/api/patients/${patient.id}/courses`, {}, "Open course");
        reload();
      } catch {
        /* shown */
      }
    });
    out.push(el("section", { class: "course none" },
      el("h3", { textContent: courses.length ? "No active course" : "No course yet" }),
      el("p", { class: "hint", textContent: "Admitting the patient to a bed also opens one with the protocol's plan." }),
      open));
  }
  for (const c of courses) out.push(courseSection(c, reload));
  return out;
}

function nextDay(c) {
  for (let d = 1; d <= c.planned_sessions; d++) if (!c.days_done.includes(d)) return d;
  return null;
}

function courseSection(c, reload) {
  const next = c.status === "active" ? nextDay(c) : null;
  const plan = `${c.planned_sessions} infusions · ${mg(c.dose_start_mg)} on day 1, ` +
    `+${mg(c.dose_step_mg)} a day, at most ${mg(c.dose_max_mg)} · ${c.duration_h} h in ${c.volume_ml} ml ` +
    `(at most ${c.max_rate_mg_per_h} mg/h)`;
  const done = `${c.days_done.length} of ${c.planned_sessions} days done` +
    (next ? ` · next: day ${next}, ${mg(c.planned_doses_mg[next - 1])}` : "");
  const rows = [];
  for (let day = 1; day <= c.planned_sessions; day++) {
    const sessions = c.sessions.filter((s) => s.infusion_day === day);
    const planned = mg(c.planned_doses_mg[day - 1]);
    if (!sessions.length) {
      rows.push(el("tr", { "data-day": String(day), class: day === next ? "next" : "" },
        el("th", { scope: "row", textContent: String(day) }), el("td", { textContent: planned }),
        el("td", { textContent: "" }), el("td", { textContent: "" }),
        el("td", { textContent: day === next ? "next" : "" }), el("td", {}), el("td", {})));
    }
    for (const s of sessions) rows.push(sessionRow(s, day, planned));
  }
  const follow = el("tbody", {}, ...journalRows(c.follow_ups, { week: true, punishing: true, empty: "No follow-up journal yet." }));
  const formBox = el("div", { class: "follow-up-box", hidden: true });
  const add = el("button", { type: "button", textContent: "Add follow-up journal", "data-action": "follow-up-open",
    "aria-expanded": "false" });
  add.addEventListener("click", () => {
    const opening = formBox.hidden;
    formBox.hidden = !opening;
    add.setAttribute("aria-expanded", String(opening));
    if (opening) formBox.replaceChildren(followUpForm(c, reload));
  });
  return el("section", { class: "course", "data-course-id": String(c.id), "data-status": c.status },
    el("h3", { textContent: `Course ${c.protocol} · ${c.status}` }),
    el("p", { class: "course-plan", textContent: plan }),
    el("p", { class: "course-done", textContent: done }),
    el("p", { class: "hint", textContent: `Opened ${dateTime(c.created_at)} by ${c.created_by}` +
      (c.closed_at ? ` · closed ${dateTime(c.closed_at)} by ${c.closed_by}` : "") }),
    el("div", { class: "table-wrap" },
      el("table", { class: "records-table course-days", "aria-label": "Course days" },
        el("thead", {}, el("tr", {}, ...["Day", "Planned", "Date", "Given", "Phase", "Bed", "Session"].map((h) =>
          el("th", { scope: "col", textContent: h })))),
        el("tbody", {}, ...rows))),
    el("h4", { textContent: "Follow-up journals" }),
    el("div", { class: "table-wrap" },
      el("table", { class: "journal-table follow-up-table", "aria-label": "Follow-up journals by week" },
        journalHead({ week: true, punishing: true }), follow)),
    add, formBox);
}

function sessionRow(s, day, planned) {
  const started = s.infusion_started_at !== null && s.infusion_started_at !== undefined;
  const current = !["discharged", "cancelled"].includes(s.phase);
  const given = started ? mg(s.dose_mg) : "";
  return el("tr", { "data-day": String(day), "data-session-id": String(s.id), "data-phase": s.phase },
    el("th", { scope: "row", textContent: String(day) }),
    el("td", { textContent: planned }),
    el("td", { textContent: dateValue(s.infusion_started_at ?? s.admitted_at) }),
    el("td", { textContent: given, title: s.dose_deviation_reason ? `off the plan: ${s.dose_deviation_reason}` : "" },
      s.dose_deviation_reason && started ? el("span", { class: "flag", textContent: " ≠ plan" }) : null),
    el("td", { textContent: humanize(s.phase) }),
    el("td", {}, current ? el("a", { href: `#bed/${encodeURIComponent(s.bed_id)}`, textContent: bedLabel(s.bed_id) })
      : bedLabel(s.bed_id)),
    el("td", {}, el("a", { href: `#session/${s.id}`, textContent: "View", "aria-label": `View the session of day ${day}` })));
}

function followUpForm(c, reload) {
  const taken = new Set(c.follow_ups.map((f) => f.follow_up_week));
  const suggested = FOLLOW_UP_WEEKS.find((w) => !taken.has(w)) ?? "";
  const week = el("input", { name: "week", type: "number", min: 1, max: 520, step: 1, value: suggested,
    inputMode: "numeric", autocomplete: "off" });
  week.setAttribute("list", `weeks-${c.id}`); // a read-only property: the attribute
  const when = el("input", { name: "date", type: "date", value: dateValue(Date.now() / 1000) });
  const { form } = journalForm({
    label: "Follow-up journal", submitText: "Save follow-up journal", action: "follow-up", time: false,
    before: [el("div", { class: "row" },
      field("Weeks after the course", week, { name: "week" }),
      field("Answered on", when, { name: "time" })),
    el("datalist", { id: `weeks-${c.id}` }, ...FOLLOW_UP_WEEKS.map((w) => el("option", { value: String(w) })))],
    check: () => {
      const w = Number(week.value);
      if (!Number.isInteger(w) || w < 1 || w > 520) return { text: "Give the week after the course (1-520).", nodes: [week] };
      if (taken.has(w)) return { text: `Week ${w} has its follow-up journal.`, nodes: [week] };
      return null;
    },
    onSubmit: async (detail) => {
      const body = { week: Number(week.value), detail };
      if (when.value && when.value !== dateValue(Date.now() / 1000)) {
        body.time = new Date(`${when.value}T12:00:00`).getTime() / 1000;
      }
      await act(`/api/courses/${c.id}/follow-ups`, body, "Follow-up journal", { quiet: [422, 409] });
      reload();
    },
  });
  return form;
}
