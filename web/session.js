// Who is at the station. Until sign-in exists the nurse types a name once; it is kept in
// localStorage and sent as "user" with every change (the server records it in the audit
// and alarm logs). Everything about identity lives in this module so that sign-in can
// replace it without touching the views.

const KEY = "spu-monitor.user";

/** The current user's name, or "" when nobody has said who they are. */
export function currentUser() {
  try {
    return (localStorage.getItem(KEY) || "").trim();
  } catch {
    return "";
  }
}

function store(name) {
  try {
    localStorage.setItem(KEY, name);
  } catch {
    /* private mode: the name lasts for this page only */
  }
}

let input = null;

/** Wire the "Who is at the station?" field in the top bar. */
export function initSession(field) {
  input = field;
  input.value = currentUser();
  const save = () => {
    const name = input.value.trim();
    store(name);
    input.closest(".who")?.classList.toggle("missing", !name);
  };
  input.addEventListener("change", save);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      save();
      input.blur();
    }
  });
  input.closest(".who")?.classList.toggle("missing", !currentUser());
}

/** The user for an action, or null after pointing the nurse at the name field. */
export function requireUser() {
  const name = input ? input.value.trim() : currentUser();
  if (name) {
    if (name !== currentUser()) store(name);
    return name;
  }
  if (input) {
    input.closest(".who")?.classList.add("missing", "asked");
    input.focus();
  }
  return null;
}
