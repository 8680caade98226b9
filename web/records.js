// The records' views, opened over the overview like the bed detail (the alarm panel stays):
//
//   #patients        patients.js  search, list, register
//   #patient/<id>    course.js    identity, courses, follow-ups, course report
//   #session/<id>    past.js      a past session, open or long after discharge
//   #reports         reports.js   unit report, research CSV
//   #audit           audit.js     the audit trail and its hash chains (admins)
//
// Each view is built when opened and dropped when closed (nothing runs in the background).

import { patientsView } from "./patients.js";
import { patientPage } from "./course.js";
import { pastSession } from "./past.js";
import { reportsPage } from "./reports.js";
import { auditPage } from "./audit.js";

/** The records view a hash names ({view, id}), or null. */
export function recordsRoute(hash) {
  if (hash === "#patients") return { view: "patients", key: hash };
  if (hash === "#reports") return { view: "reports", key: hash };
  if (hash === "#audit") return { view: "audit", key: hash };
  let m = /^#patient\/(\d+)$/.exec(hash);
  if (m) return { view: "patient", id: Number(m[1]), key: hash };
  m = /^#session\/(\d+)$/.exec(hash);
  if (m) return { view: "session", id: Number(m[1]), key: hash };
  return null;
}

export class RecordsView {
  constructor(container) {
    this.container = container;
    this.current = null; // {key, view}
  }

  get open() {
    return this.current !== null;
  }

  show(route) {
    if (this.current?.key === route.key) return;
    this.close();
    const view = route.view === "patients" ? patientsView()
      : route.view === "patient" ? patientPage(route.id)
        : route.view === "session" ? pastSession(route.id)
          : route.view === "audit" ? auditPage()
            : reportsPage();
    this.current = { key: route.key, view };
    this.container.replaceChildren(view.root);
    this.container.scrollTop = 0;
    view.title.focus({ preventScroll: true });
  }

  close() {
    if (!this.current) return;
    this.current.view.close?.();
    this.current = null;
    this.container.replaceChildren();
  }
}
