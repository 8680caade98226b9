// Reports (#reports): the unit report over a date range as tables (each journal measure by
// day, day 1 against day 10, side-effect incidence), its PDF, and for charge nurses and
// admins the research CSV: export, and import (all of it or, when a row is wrong, nothing:
// the refusal names the row and the column).

import { el, setText } from "./format.js";
import { getJSON, act, ApiError } from "./api.js";
import { field, formMessage, say } from "./forms.js";
import { hasRole } from "./session.js";
import { humanize } from "./vocab.js";

const MEASURES = [
  ["pain", "Pain intensity"], ["worst_pain", "Worst daily pain"], ["least_pain", "Least daily pain"],
  ["pain_24h", "Pain over past 24 h"], ["affective", "Affective component"], ["punishing", "Punishing pain"],
  ["movement", "Ability to initiate movement"], ["relief_percent", "Overall relief (%)"],
];
const fixed = (v, d = 2) => (v === null || v === undefined ? "—" : Number(v).toFixed(d));
const meanSd = (x) => (x && x.mean !== null && x.mean !== undefined
  ? `${fixed(x.mean)}${x.sd !== null && x.sd !== undefined ? ` ± ${fixed(x.sd)}` : ""}` : "—");
const pText = (p) => (p === null || p === undefined ? "—" : p < 0.001 ? "< 0.001" : fixed(p, 3));
const dayName = (k) => (k.startsWith("F") ? `Follow-up week ${k.slice(1)}` : `Day ${k}`);
/** A row header: "Day 3", or "Week 2" over "follow-up". */
const dayHead = (k) => (k.startsWith("F")
  ? [`Week ${k.slice(1)}`, el("span", { class: "sub", textContent: "follow-up" })] : [`Day ${k}`]);

export function reportsPage() {
  const title = el("h2", { tabIndex: -1, textContent: "Reports" });
  const from = el("input", { type: "date", name: "from" });
  const to = el("input", { type: "date", name: "to" });
  const pdf = el("a", { class: "button", target: "_blank", rel: "noopener", textContent: "Unit report (PDF)",
    "data-action": "unit-pdf" });
  const range = el("form", { class: "report-range", "aria-label": "Report period" },
    el("div", { class: "row" }, field("From (first course day)", from), field("To (last course day)", to),
      el("div", { class: "range-buttons" },
        el("button", { type: "submit", class: "primary", textContent: "Show report", "data-action": "report-show" }),
        pdf)));
  const output = el("div", { class: "report-output", "aria-live": "polite" });
  const research = hasRole("charge_nurse") ? researchBox(() => rangeQuery("start", "end"), () => show()) : null;
  const root = el("div", { class: "records-page reports-page" },
    el("header", { class: "records-head" }, el("a", { class: "back", href: "#", textContent: "← All beds" }), title),
    el("section", { class: "report-part", "aria-label": "Unit report" }, el("h3", { textContent: "Unit report" }), range, output),
    research ? research.root : null);

  function rangeQuery(fromName = "from", toName = "to") {
    const q = new URLSearchParams();
    if (from.value) q.set(fromName, from.value);
    if (to.value) q.set(toName, to.value);
    const s = q.toString();
    return s ? `?${s}` : "";
  }
  let seq = 0;
  async function show() {
    const mine = ++seq;
    pdf.href = `/api/reports/unit.pdf${rangeQuery()}`;
    research?.sync();
    output.replaceChildren(el("p", { class: "hint", textContent: "Working out the report…" }));
    try {
      const answer = await getJSON(`/api/reports/unit${rangeQuery()}`);
      if (mine === seq) output.replaceChildren(...report(answer)); // else a newer one is on its way
    } catch (err) {
      if (mine !== seq) return;
      output.replaceChildren(el("p", { class: "form-message", role: "alert",
        textContent: err instanceof ApiError && err.fields.length
          ? `Not shown: ${err.fields.map((f) => `${f.loc.at(-1)}: ${f.msg}`).join("; ")}` : `Report unavailable: ${err.message}` }));
    }
  }
  range.addEventListener("submit", (ev) => {
    ev.preventDefault();
    show();
  });
  show();
  return { root, title };
}

function report(r) {
  const d = r.demographics || {};
  const period = r.period?.from ? `${r.period.from} to ${r.period.to}` : "no course day in the period";
  const desc = (x, unit) => (x && x.n ? `${fixed(x.mean, 1)} ± ${fixed(x.sd, 1)} ${unit} (n ${x.n})` : "—");
  const out = [
    el("p", { class: "report-summary", textContent: `${r.patients} patients · ${r.sessions} sessions · ` +
      `${r.follow_ups} follow-up journals · ${period}` }),
    el("dl", { class: "facts-grid demographics" },
      el("dt", { textContent: "Sex" }), el("dd", { textContent: `${d.female ?? 0} female, ${d.male ?? 0} male` }),
      el("dt", { textContent: "Age" }), el("dd", { textContent: desc(d.age_years, "years") }),
      el("dt", { textContent: "Weight" }), el("dd", { textContent: desc(d.weight_kg, "kg") }),
      el("dt", { textContent: "Height" }), el("dd", { textContent: desc(d.height_cm, "cm") })),
  ];
  if (r.left_out?.length) {
    out.push(el("p", { class: "note", textContent: `Left out (no birth date or sex recorded): ${r.left_out.join(", ")}` }));
  }
  const measures = r.measures || {};
  const days = Object.keys(measures.pain?.by_day || {});
  out.push(el("h4", { textContent: "Day 1 against day 10 (Kruskal-Wallis)" }),
    el("div", { class: "table-wrap" }, el("table", { class: "records-table day1-day10", "aria-label": "Day 1 against day 10" },
      el("thead", {}, el("tr", {}, ...["Measure", "Day 1 mean ± SD", "n", "Day 10 mean ± SD", "n", "H", "p"].map((h, i) =>
        el("th", { scope: "col", class: i ? "num" : "", textContent: h })))),
      el("tbody", {}, ...MEASURES.filter(([k]) => measures[k]).map(([k, label]) => {
        const m = measures[k];
        const one = m.by_day["1"];
        const ten = m.by_day["10"];
        return el("tr", { "data-measure": k },
          el("th", { scope: "row", textContent: label }),
          el("td", { class: "num", textContent: meanSd(one) }), el("td", { class: "num", textContent: String(one?.n ?? 0) }),
          el("td", { class: "num", textContent: meanSd(ten) }), el("td", { class: "num", textContent: String(ten?.n ?? 0) }),
          el("td", { class: "num", textContent: fixed(m.day1_vs_day10?.h) }),
          el("td", { class: "num", textContent: pText(m.day1_vs_day10?.p) }));
      })))));
  out.push(el("h4", { textContent: "Measures by day: mean ± SD (n)" }),
    el("div", { class: "table-wrap" }, el("table", { class: "records-table by-day", "aria-label": "Journal measures by day" },
      el("thead", {}, el("tr", {}, el("th", { scope: "col", textContent: "Day" }),
        ...MEASURES.filter(([k]) => measures[k]).map(([, label]) => el("th", { scope: "col", textContent: label })))),
      el("tbody", {}, ...days.map((day) => el("tr", { "data-day": day },
        el("th", { scope: "row", title: dayName(day) }, ...dayHead(day)),
        ...MEASURES.filter(([k]) => measures[k]).map(([k]) => {
          const x = measures[k].by_day[day];
          return el("td", { class: "num", "data-measure": k, "data-day": day },
            el("span", { class: "mean-sd", textContent: meanSd(x) }),
            el("span", { class: "n", textContent: `(${x?.n ?? 0})` }));
        })))))));
  const inc = Object.entries(r.incidence || {});
  out.push(el("h4", { textContent: "Side effects: patients affected of patients treated" }),
    el("div", { class: "table-wrap" }, el("table", { class: "records-table incidence", "aria-label": "Side-effect incidence" },
      el("thead", {}, el("tr", {}, ...["Side effect", "Patients", "%", "Charted", "Detected from vitals"].map((h, i) =>
        el("th", { scope: "col", class: i ? "num" : "", textContent: h })))),
      el("tbody", {}, ...inc.map(([k, x]) => el("tr", { "data-effect": k, class: x.patients ? "" : "zero" },
        el("th", { scope: "row", textContent: humanize(k) }),
        el("td", { class: "num", textContent: `${x.patients}/${x.of}` }),
        el("td", { class: "num", textContent: x.of ? fixed((100 * x.patients) / x.of, 0) : "—" }),
        el("td", { class: "num", textContent: String(x.charted ?? "") }),
        el("td", { class: "num", textContent: String(x.detected ?? "") })))))));
  const pain = Object.entries(r.with_pain || {});
  if (pain.length) {
    out.push(el("h4", { textContent: "Patients with pain (pain intensity above 0)" }),
      el("div", { class: "table-wrap" }, el("table", { class: "records-table with-pain", "aria-label": "Patients with pain by day" },
        el("thead", {}, el("tr", {}, el("th", { scope: "col", textContent: "" }),
          ...pain.map(([k]) => el("th", { scope: "col", textContent: k.startsWith("F") ? `W${k.slice(1)}` : k, title: dayName(k) })))),
        el("tbody", {}, el("tr", {}, el("th", { scope: "row", textContent: "With pain" }),
          ...pain.map(([k, x]) => el("td", { class: "num", title: dayName(k),
            textContent: x.of ? `${x.patients}/${x.of}` : "—" })))))));
  }
  return out;
}

/** Research CSV for charge nurses and admins: export (the period shown), import. */
function researchBox(query, imported) {
  const exportLink = el("a", { class: "button", "data-action": "export", textContent: "Export research CSV" });
  const file = el("input", { type: "file", name: "file", accept: ".csv,text/csv" });
  const message = formMessage();
  const form = el("form", { class: "import-form", "aria-label": "Import a research CSV" },
    field("Research CSV to import", file), message,
    el("button", { type: "submit", class: "primary", textContent: "Import", "data-action": "import" }));
  const note = el("p", { class: "hint" });
  const root = el("section", { class: "report-part research", "aria-label": "Research data" },
    el("h3", { textContent: "Research data (charge nurse, admin)" }),
    el("div", { class: "form-buttons" }, exportLink), note,
    el("p", { class: "hint", textContent: "Importing takes a whole file or nothing: a wrong row is named and nothing is kept." }),
    form);
  const sync = () => {
    const q = query();
    exportLink.href = `/api/records/export${q}`;
    setText(note, q ? "The export holds the course days of the period chosen above." : "The export holds every record.");
  };
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    say(message, "");
    const chosen = file.files?.[0];
    if (!chosen) {
      say(message, "Choose the CSV file to import.");
      return;
    }
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const text = await chosen.text();
      const n = await act("/api/records/import", text, "Import", { contentType: "text/csv", quiet: [409, 413, 422] });
      say(message, `Imported ${chosen.name}: ${n.patients} patients, ${n.sessions} sessions and ${n.follow_ups} follow-up journals.`, "ok");
      form.reset();
      imported();
    } catch (err) {
      if (err instanceof ApiError && err.status) {
        const why = err.fields.length ? err.fields.map((f) => f.msg).join("; ") : err.message;
        say(message, `Not imported (nothing was kept): ${why}`);
      }
    } finally {
      submit.disabled = false;
    }
  });
  sync();
  return { root, sync };
}
