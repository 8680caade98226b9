// The records' coded lists and scales, from GET /api/vocabulary (the server's one list of
// side effects, routes, limbs, journal scales and the premedication plan), loaded once.

import { getJSON } from "./api.js";

let loading = null;

/** The vocabulary (cached after the first successful load). */
export function vocabulary() {
  if (!loading) {
    loading = getJSON("/api/vocabulary").catch((err) => {
      loading = null; // try again next time
      throw err;
    });
  }
  return loading;
}

/** "left_arm" -> "Left arm", "tachycardia" -> "Tachycardia". */
export function humanize(code) {
  const text = String(code ?? "").replace(/_/g, " ");
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

/** The planned premedication of `drug` ({drug, low_mg, high_mg, route}), if any. */
export function drugPlan(vocab, drug) {
  return (vocab?.premedication_plan || []).find((p) => p.drug === drug) || null;
}

/** "midazolam 2-4 mg IV", "clonidine 0.1 mg PO". */
export function planText(p) {
  const dose = p.low_mg === p.high_mg ? `${p.low_mg}` : `${p.low_mg}–${p.high_mg}`;
  return `${p.drug} ${dose} mg ${p.route}`;
}

/** Whether a premedication (dose, route) is off its plan. */
export function offPlan(p, dose, route) {
  if (!p) return false;
  const offDose = dose !== null && dose !== undefined && !(dose >= p.low_mg - 1e-9 && dose <= p.high_mg + 1e-9);
  return offDose || (route && route !== p.route);
}
