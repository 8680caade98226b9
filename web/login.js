// The sign-in page. The form posts to /login by itself (no script needed); this only
// carries the page to come back to (`next`, with the #bed/... view the server cannot see)
// and explains why the nurse is here (`error`).

const MESSAGES = {
  invalid: { text: "Wrong username or password.", alert: true },
  throttled: { text: "Too many failed attempts. Try again later.", alert: true },
  expired: { text: "Your session ended. Please sign in again.", alert: true },
  required: { text: "Sign in to see the central station.", alert: false },
  signed_out: { text: "You are signed out.", alert: false },
};

/**
 * Where to go after signing in: a local path only ("/..." but not "//..." or "/\..." which
 * browsers read as another host), never the sign-in page itself; otherwise "/".
 */
export function safeNext(raw, hash = "") {
  let next = typeof raw === "string" ? raw : "";
  if (!/^\/(?![/\\])/.test(next) || /[\\\u0000-\u001f\u007f]/.test(next)) next = "/";
  if (/^\/login(?:[/?#.]|$)/.test(next)) next = "/";
  if (hash && hash !== "#" && !next.includes("#")) next += hash;
  return next;
}

function init() {
  const params = new URLSearchParams(location.search);
  const form = document.getElementById("login-form");
  const nextField = document.getElementById("login-next");
  const box = document.getElementById("login-message");
  const submit = document.getElementById("login-submit");
  if (!form || !nextField) return;

  nextField.value = safeNext(params.get("next"), location.hash);

  const message = MESSAGES[params.get("error") || ""];
  if (box && message) {
    // Role and text together, so a screen reader reads an error out at once.
    box.setAttribute("role", message.alert ? "alert" : "status");
    box.dataset.kind = message.alert ? "error" : "info";
    box.textContent = message.text;
    box.hidden = false;
  }

  // After a wrong password the name is typed again only if it was wrong: it is kept for
  // this tab (never the password), and the cursor goes to the password.
  const username = document.getElementById("login-username");
  const password = document.getElementById("login-password");
  const NAME_KEY = "spu-monitor.signin-name";
  try {
    const last = sessionStorage.getItem(NAME_KEY);
    if (username && password && last && params.get("error") === "invalid" && !username.value) {
      username.value = last;
      password.focus();
    }
  } catch {
    /* storage unavailable: the nurse types the name again */
  }

  // One sign-in at a time; a page restored with "back" is usable again.
  form.addEventListener("submit", () => {
    try {
      if (username) sessionStorage.setItem(NAME_KEY, username.value.trim());
    } catch {
      /* see above */
    }
    if (!submit) return;
    setTimeout(() => {
      submit.disabled = true;
      submit.textContent = "Signing in…";
    }, 0);
  });
  window.addEventListener("pageshow", () => {
    if (!submit) return;
    submit.disabled = false;
    submit.textContent = "Sign in";
  });
}

init();
