// HTTP calls to the server. Failures are shown to the nurse (toast) and thrown: an action
// that did not happen must never look as if it did. The server knows who is signed in from
// the session cookie and records that user itself; requests carry no name.

import { signInAgain } from "./session.js";
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
  const res = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (res.status === 401) {
    const detail = await readError(res);
    signInAgain("expired");
    throw new ApiError(401, detail);
  }
  if (!res.ok) throw new ApiError(res.status, await readError(res));
  return res.json();
}

/**
 * POST an action as the signed-in user. Returns the answer; throws ApiError (after telling
 * the nurse) when it did not happen: no server (status 0), session ended (401: off to the
 * sign-in page), role not allowed (403), or refused.
 */
export async function act(path, body = {}, what = "action") {
  let res;
  try {
    res = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    toast(`${what} failed: the server cannot be reached.`);
    throw new ApiError(0, "network");
  }
  if (!res.ok) {
    const detail = await readError(res);
    if (res.status === 401) {
      toast(`${what} not done: your session ended. Sign in again.`);
      signInAgain("expired");
    } else if (res.status === 403) {
      toast(/^not allowed/i.test(detail) ? `${what}: ${detail}` : `${what} not allowed: ${detail}`);
    } else {
      toast(`${what} failed: ${detail}`);
    }
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
