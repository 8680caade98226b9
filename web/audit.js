// The audit trail (#audit), for admins: every user action with who and when, newest first,
// filtered by action or user, paged back; and the check of the audit trail's and the alarm
// log's hash chains (an entry changed, deleted or slipped in afterwards is named).

import { el, setText, clockTime } from "./format.js";
import { getJSON } from "./api.js";
import { field } from "./forms.js";

const PAGE = 100;

function when(t) {
  const d = new Date(t * 1000);
  return `${d.toISOString().slice(0, 10)} ${clockTime(t)}`;
}

function detailText(detail) {
  return Object.entries(detail || {}).map(([k, v]) =>
    `${k.replace(/_/g, " ")}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ");
}

export function auditPage() {
  const title = el("h2", { tabIndex: -1, textContent: "Audit trail" });
  const action = el("input", { type: "text", name: "action", placeholder: "e.g. sign_in_failed" });
  const user = el("input", { type: "text", name: "user", placeholder: "e.g. ada" });
  const filters = el("form", { class: "report-range", "aria-label": "Filter the audit trail" },
    el("div", { class: "row" }, field("Action", action), field("User", user),
      el("div", { class: "range-buttons" },
        el("button", { type: "submit", class: "primary", textContent: "Show", "data-action": "audit-show" }))));
  const body = el("tbody");
  const more = el("button", { type: "button", textContent: "Older entries", "data-action": "audit-more", hidden: true });
  const chains = el("p", { class: "audit-chains", role: "status", "aria-live": "polite" });
  const verify = el("button", { type: "button", textContent: "Check the hash chains", "data-action": "audit-verify" });
  const root = el("div", { class: "records-page audit-page" },
    el("header", { class: "records-head" }, el("a", { class: "back", href: "#", textContent: "← All beds" }), title),
    el("section", { class: "report-part", "aria-label": "Integrity" },
      el("h3", { textContent: "Integrity" }), verify, chains),
    el("section", { class: "report-part", "aria-label": "Entries" }, el("h3", { textContent: "Entries" }), filters,
      el("div", { class: "table-wrap" }, el("table", { class: "audit-table" },
        el("thead", {}, el("tr", {}, ...["When", "User", "Action", "Bed", "Detail"].map((h) =>
          el("th", { scope: "col", textContent: h })))), body)), more));
  let oldest = null;

  async function load(append) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if (action.value.trim()) q.set("action", action.value.trim());
    if (user.value.trim()) q.set("user", user.value.trim().toLowerCase());
    if (append && oldest) q.set("before_id", String(oldest));
    const rows = await getJSON(`/api/audit?${q}`);
    const items = rows.map((r) => el("tr", { "data-action": r.action },
      el("td", { textContent: when(r.time) }), el("td", { textContent: r.user }),
      el("td", { textContent: r.action.replace(/_/g, " ") }), el("td", { textContent: r.bed_id || "" }),
      el("td", { class: "audit-detail", textContent: detailText(r.detail) })));
    if (append) body.append(...items);
    else body.replaceChildren(...(items.length ? items
      : [el("tr", {}, el("td", { colSpan: 5, textContent: "No entries." }))]));
    oldest = rows.length ? rows[rows.length - 1].id : oldest;
    more.hidden = rows.length < PAGE;
  }

  filters.addEventListener("submit", (ev) => {
    ev.preventDefault();
    oldest = null;
    load(false).catch(() => {});
  });
  more.addEventListener("click", () => load(true).catch(() => {}));
  verify.addEventListener("click", async () => {
    setText(chains, "Checking every entry…");
    try {
      const result = await getJSON("/api/audit/verify");
      const parts = Object.entries(result).map(([table, r]) => (r.intact
        ? `${table.replace(/_/g, " ")}: ${r.entries} entries, intact`
        : `${table.replace(/_/g, " ")}: BROKEN at ${r.first_break}`));
      setText(chains, parts.join(" · "));
      chains.dataset.state = Object.values(result).every((r) => r.intact) ? "intact" : "broken";
    } catch (err) {
      setText(chains, `The check did not run: ${err.message}`);
    }
  });
  load(false).catch(() => {});
  return { root, title };
}
