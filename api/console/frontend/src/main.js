// fhir-evidence console: the entry point bundled into /console/app.js. Renders the view of
// the hash route into <main>; every data request goes through `api.js` (auditor API only).
import { token } from "./api.js";
import { byId, clear, fail, focus, say } from "./dom.js";
import { leave, route, setRenderer } from "./router.js";
import { alertsView } from "./views/alerts.js";
import { integrityView } from "./views/integrity.js";
import { renderLogin, renderSession } from "./views/login.js";
import { patientView } from "./views/patient.js";
import { principalView } from "./views/principal.js";
import { requestView } from "./views/request.js";

const VIEWS = {
  patient: patientView,
  principal: principalView,
  request: requestView,
  alerts: alertsView,
  integrity: integrityView,
};

function markCurrent(view) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === "#/" + view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function render() {
  leave();
  fail("");
  say("");
  renderSession();
  const root = clear(byId("main"));
  if (!token()) {
    renderLogin(root);
  } else {
    const { view, params } = route();
    const known = Object.hasOwn(VIEWS, view) ? view : "patient";
    markCurrent(known);
    VIEWS[known](root, params);
  }
  focus(root.querySelector("h1"));
}

// The skip link moves focus to the content; it is not a route (its #main would be one).
function skipToContent(event) {
  const link = event.target.closest("a.skip");
  if (!link) return;
  event.preventDefault();
  focus(byId("main").querySelector("h1") || byId("main"));
}

setRenderer(render);
document.addEventListener("click", skipToContent);
window.addEventListener("hashchange", render);
if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", render);
else render();
