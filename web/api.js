// HTTP calls to the server. Failures are shown to the nurse (toast) and thrown: an action
// that did not happen must never look as if it did.

import { requireUser } from "./session.js";
import { el } from "./format.js";

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

async function readError(res) {
  try {
    const body = await res.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return body.detail.map((d) => d.msg).join("; ");
  } catch {
    /* not JSON */
  }
  return `${res.status} ${res.statusText}`;
}

export async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  if (!res.ok) throw new ApiError(res.status, await readError(res));
  return res.json();
}

/** POST an action as the current user. Returns the answer, or null when no user is set. */
export async function act(path, body = {}, what = "action") {
  const user = requireUser();
  if (!user) {
    toast("Type your name in “Who is at the station?” first.");
    return null;
  }
  let res;
  try {
    res = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ user, ...body }),
    });
  } catch {
    toast(`${what} failed: the server cannot be reached.`);
    throw new ApiError(0, "network");
  }
  if (!res.ok) {
    const detail = await readError(res);
    toast(`${what} failed: ${detail}`);
    throw new ApiError(res.status, detail);
  }
  return res.status === 204 ? {} : res.json();
}

/** A short message at the bottom of the screen (role=alert: read out at once). */
export function toast(text) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = el("div", { class: "toast", role: "alert", textContent: text });
  box.append(item);
  setTimeout(() => item.remove(), 8000);
}
