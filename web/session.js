// Who is signed in at the station. The server knows the user from the session cookie
// (HttpOnly, so this page never sees it) and records them in the audit and alarm logs
// itself; this module only asks GET /api/me who that is, shows it in the top bar with a
// "Sign out" button, and sends the nurse back to the sign-in page when the session ends.
// Everything about identity lives here, so the views never deal with it.

import { el } from "./format.js";

/** Roles from least to most allowed (the server decides; this only hides what it refuses). */
const ROLES = ["nurse", "charge_nurse", "admin"];
const ROLE_TEXT = { nurse: "nurse", charge_nurse: "charge nurse", admin: "admin" };
const RETRY_MS = 5000;

let me = null; // {username, role, roles_allowed?} once known
let box = null;
let leaving = false;
let retryTimer = null;

/**
 * GET /api/me. Resolves with the signed-in user. When nobody is signed in it sends the
 * browser to the sign-in page and never resolves, so nothing after `await loadSession()`
 * (the WebSocket above all) starts. When the server cannot be reached it resolves with null
 * and tries again in the background: the dashboard then starts and shows the lost-connection
 * banner as usual.
 */
export async function loadSession() {
  const answer = await askServer();
  if (answer === "signed-out") {
    signInAgain("required");
    return new Promise(() => {});
  }
  if (answer === null) {
    scheduleRetry();
    return null;
  }
  return me;
}

/**
 * Whether the session still holds (ws.js asks after a refused or failed socket). Only a
 * 401 counts as signed out, and then the browser goes to the sign-in page; a network
 * failure is server loss, not sign-out, and answers true.
 */
export async function checkSession() {
  const answer = await askServer();
  if (answer === "signed-out") {
    signInAgain("expired");
    return false;
  }
  return true;
}

/** "signed-out" on 401, null when it cannot tell (no server, odd answer); else sets `me`. */
async function askServer() {
  let res;
  try {
    res = await fetch("/api/me", {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
  } catch {
    return null;
  }
  if (res.status === 401) return "signed-out";
  if (!res.ok) return null;
  try {
    const body = await res.json();
    if (!body || typeof body.username !== "string") return null;
    me = body;
  } catch {
    return null;
  }
  render();
  return "ok";
}

function scheduleRetry() {
  if (retryTimer || leaving) return;
  retryTimer = setTimeout(async () => {
    retryTimer = null;
    const answer = await askServer();
    if (answer === "signed-out") signInAgain("expired");
    else if (answer === null) scheduleRetry();
  }, RETRY_MS);
}

/** The signed-in user's name, or "" while it is not known. */
export function currentUser() {
  return me ? me.username : "";
}

/** "nurse", "charge_nurse" or "admin", or "" while it is not known. */
export function currentRole() {
  return me && typeof me.role === "string" ? me.role : "";
}

/** Whether the user's role is at least `minRole` (nurse < charge_nurse < admin). */
export function hasRole(minRole) {
  const have = ROLES.indexOf(currentRole());
  const need = ROLES.indexOf(minRole);
  return have >= 0 && need >= 0 && have >= need;
}

/**
 * Go to the sign-in page, coming back here (bed view included) afterwards. `reason` is the
 * page's `error` message: "required", "expired", ... Several callers may find out at once;
 * only the first navigates.
 */
export function signInAgain(reason = "expired") {
  if (leaving) return;
  leaving = true;
  clearTimeout(retryTimer);
  const here = location.pathname + location.search + location.hash;
  const url = `/login?error=${encodeURIComponent(reason)}&next=${encodeURIComponent(here)}`;
  // replace(): "back" must not return to a page that would only send us here again.
  location.replace(url);
}

/** Show "alice · nurse" and a "Sign out" button (a real form: it works without scripts). */
export function initSession(container) {
  box = container;
  render();
}

function render() {
  if (!box) return;
  const name = el("span", { class: "user-name", id: "user-name", textContent: me ? me.username : "…" });
  const role = el("span", { class: "user-role", id: "user-role", "data-role": currentRole(),
    textContent: me ? ROLE_TEXT[me.role] || me.role || "" : "" });
  const password = el("button", { type: "button", class: "signout", id: "change-password",
    textContent: "Password", title: "Change your password", onclick: openPasswordDialog });
  const form = el("form", { class: "signout-form", id: "signout-form", method: "post", action: "/logout" },
    el("button", { type: "submit", class: "signout", id: "sign-out", textContent: "Sign out" }));
  const who = el("span", { class: "user-who", title: "Signed in at this station" },
    name, role.textContent ? el("span", { class: "sep", "aria-hidden": "true", textContent: " · " }) : null,
    role);
  box.dataset.user = currentUser();
  box.dataset.role = currentRole();
  box.replaceChildren(who, password, form);
}

/** The "Change your password" dialog: POST /api/me/password; this browser stays signed in,
 * every other session of the user ends. Errors are shown in the dialog, not as toasts. */
function openPasswordDialog() {
  const dialog = document.getElementById("password-dialog");
  const form = document.getElementById("password-form");
  const message = document.getElementById("password-message");
  if (!dialog || !form || !message) return;
  const say = (text, kind) => {
    message.textContent = text;
    message.dataset.kind = kind;
    message.setAttribute("role", kind === "error" ? "alert" : "status");
    message.hidden = !text;
  };
  form.reset();
  say("", "info");
  const cancel = document.getElementById("password-cancel");
  cancel.textContent = "Cancel";
  cancel.onclick = () => dialog.close();
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const current = String(data.get("current_password") || "");
    const next = String(data.get("new_password") || "");
    if (next !== String(data.get("repeat_password") || "")) {
      say("The two new passwords differ.", "error");
      return;
    }
    let res;
    try {
      res = await fetch("/api/me/password", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ current_password: current, new_password: next }),
      });
    } catch {
      say("The server cannot be reached: the password is unchanged.", "error");
      return;
    }
    if (res.status === 401) {
      signInAgain("expired");
      return;
    }
    if (!res.ok) {
      let detail = `${res.status} ${res.statusText}`;
      try {
        const body = await res.json();
        if (typeof body.detail === "string") detail = body.detail;
        else if (Array.isArray(body.detail)) detail = body.detail.map((d) => d.msg).join("; ");
      } catch {
        /* not JSON */
      }
      say(`Not changed: ${detail}.`, "error");
      return;
    }
    form.reset();
    cancel.textContent = "Close";
    say("Password changed. Other stations signed in as you are signed out.", "info");
  };
  dialog.showModal();
}
