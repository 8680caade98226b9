// HTTP calls to the server. Failures are shown to the nurse (toast) and thrown: an action
// that did not happen must never look as if it did. The server knows who is signed in from
// the session cookie and records that user itself; requests carry no name.

import { signInAgain } from "./session.js";
import { el } from "./format.js";

export class ApiError extends Error {
  /**
   * @param {number} status HTTP status (0: no server)
   * @param {string} detail what the server said, as one text
   * @param {Array<{loc: Array<string|number>, msg: string}>} fields a 422's list, naming
   *   each field at fault (FastAPI's shape, docs/api.md); empty otherwise
   */
  constructor(status, detail, fields = []) {
    super(detail);
    this.status = status;
    this.fields = fields;
  }
}

async function readError(res) {
  try {
    const body = await res.json();
    if (typeof body.detail === "string") return { text: body.detail, fields: [] };
    if (Array.isArray(body.detail)) {
      const fields = body.detail.filter((d) => d && Array.isArray(d.loc))
        .map((d) => ({ loc: d.loc, msg: String(d.msg ?? "") }));
      return { text: body.detail.map((d) => d.msg).join("; "), fields };
    }
  } catch {
    /* not JSON */
  }
  return { text: `${res.status} ${res.statusText}`, fields: [] };
}

export async function getJSON(path) {
  const res = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (res.status === 401) {
    const { text } = await readError(res);
    signInAgain("expired");
    throw new ApiError(401, text);
  }
  if (!res.ok) {
    const { text, fields } = await readError(res);
    throw new ApiError(res.status, text, fields);
  }
  return res.json();
}

/**
 * Send an action as the signed-in user (POST unless `opts.method` says otherwise). Returns
 * the answer; throws ApiError (after telling the nurse) when it did not happen: no server
 * (status 0), session ended (401: off to the sign-in page), role not allowed (403), or
 * refused.
 *
 * @param {object} [opts]
 * @param {string} [opts.method] "POST" (default) or "PATCH"
 * @param {string} [opts.contentType] send `body` as it is, with this type (a CSV file),
 *   instead of as JSON
 * @param {number[]} [opts.quiet] statuses the caller shows itself, next to the fields the
 *   answer names (a form's 422): no toast for those
 */
export async function act(path, body = {}, what = "action", opts = {}) {
  let res;
  const raw = Boolean(opts.contentType);
  try {
    res = await fetch(path, {
      method: opts.method || "POST",
      credentials: "same-origin",
      headers: { "Content-Type": raw ? opts.contentType : "application/json", Accept: "application/json" },
      body: raw ? body : JSON.stringify(body),
    });
  } catch {
    toast(`${what} failed: the server cannot be reached.`);
    throw new ApiError(0, "network");
  }
  if (!res.ok) {
    const { text, fields } = await readError(res);
    if (res.status === 401) {
      toast(`${what} not done: your session ended. Sign in again.`);
      signInAgain("expired");
    } else if (res.status === 403) {
      toast(/^not allowed/i.test(text) ? `${what}: ${text}` : `${what} not allowed: ${text}`);
    } else if (!(opts.quiet || []).includes(res.status)) {
      toast(`${what} failed: ${text}`);
    }
    throw new ApiError(res.status, text, fields);
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
