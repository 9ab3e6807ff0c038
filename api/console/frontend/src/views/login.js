// Log in (paste a token, or the demo token while the development issuer is on) and the
// session bar (who is signed in, Log out).
import { clearToken, demoToken, setToken, token, tokenClaims } from "../api.js";
import { byId, clear, el, field, guarded } from "../dom.js";
import { rerender } from "../router.js";

export function renderSession() {
  const box = clear(byId("session"));
  byId("nav").hidden = !token();
  if (!token()) return;
  const claims = tokenClaims();
  const logout = () => {
    clearToken();
    rerender();
  };
  box.append(
    el("span", {}, "Signed in as ", el("strong", {}, claims.sub || "?"),
      " (" + (claims.scope || "") + ")"),
    el("button", { type: "button", onclick: logout }, "Log out"));
}

function tokenForm() {
  const input = el("textarea", { id: "token", name: "token", rows: 4, cols: 60, required: true,
    autocomplete: "off", spellcheck: "false" });
  const submit = (event) => {
    event.preventDefault();
    const value = input.value.trim().replace(/^Bearer\s+/i, "");
    if (!value) return;
    setToken(value);
    rerender();
  };
  return el("form", { class: "stack", onsubmit: submit },
    field("Access token with an AuditEvent scope (e.g. system/AuditEvent.rs)", input),
    el("button", { type: "submit" }, "Log in"));
}

async function demoLogin() {
  setToken(await demoToken());
  rerender();
}

export function renderLogin(root) {
  root.append(
    el("h1", {}, "Log in"),
    el("p", {}, "Paste an access token. It is kept in this tab only (sessionStorage) and sent " +
      "to the auditor API."),
    tokenForm(),
    el("h2", {}, "Demo mode"),
    el("p", {}, "Only while the development issuer is on (no trusted issuer configured): a " +
      "15-minute auditor token for console-demo."),
    el("button", { type: "button", onclick: guarded(demoLogin) }, "Demo login (use demo token)"));
}
