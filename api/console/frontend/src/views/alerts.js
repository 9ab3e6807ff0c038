// Alerts view: the live feed (polling /audit/alerts every few seconds), filters by kind,
// severity, status and principal (all applied by the auditor API). One alert
// (#/alerts?id=…) is `alert.js`.
import { api, query } from "../api.js";
import { clear, el, fail, field, say, section } from "../dom.js";
import { alertTable } from "../evidence.js";
import { choice, filterForm, formValues, textInput } from "../forms.js";
import { go, onLeave } from "../router.js";
import { alertView } from "./alert.js";

export const POLL_MS = 5000;
export const KINDS = ["bulk_access_spike", "denied_burst", "enumeration", "break_glass", "export",
  "vip_access", "staff_record_access", "same_surname", "after_hours", "dormant_principal",
  "self_granted_access"];
export const SEVERITIES = ["low", "medium", "high", "critical"];
const STATUSES = ["open", "acknowledged", "suppressed"];

function form(params) {
  return filterForm([
    field("Kind", choice("kind", KINDS, params.get("kind"))),
    field("Severity", choice("severity", SEVERITIES, params.get("severity"))),
    field("Status", choice("status", STATUSES, params.get("status"))),
    field("Principal", textInput("principal", params.get("principal"))),
  ], (event) => {
    event.preventDefault();
    go("alerts", formValues(event.target));
  });
}

// Redraws the list only when it changed, keeping keyboard focus on the same link.
function redraw(list, alerts) {
  const active = document.activeElement;
  const focused = list.contains(active) ? active.getAttribute("href") : null;
  clear(list).append(alerts.length ? alertTable("Alerts (newest first)", alerts)
    : el("p", {}, "No alerts."));
  const again = focused && [...list.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused);
  if (again) again.focus();
}

function feed(list, stamp, path) {
  let last = null;
  let known = null;
  return async () => {
    if (document.hidden) return;
    try {
      const page = await api(path);
      const alerts = page.alerts;
      const seen = JSON.stringify(alerts);
      if (seen !== last) {
        const fresh = known ? alerts.filter((a) => !known.has(a.id)).length : 0;
        last = seen;
        known = new Set(alerts.map((a) => a.id));
        redraw(list, alerts);
        if (fresh) say(fresh + " new alert" + (fresh > 1 ? "s" : "") + ".");
      }
      stamp.textContent = "Updated " + new Date().toISOString().slice(11, 19) + " UTC.";
    } catch (e) {
      fail(e.message);
    }
  };
}

export function alertsView(root, params) {
  const id = params.get("id");
  if (id) {
    alertView(root, id);
    return;
  }
  root.append(el("h1", {}, "Alerts"), form(params));
  const list = el("div", {});
  const stamp = el("p", {});
  root.append(section("live-h", "Feed (refreshed every " + POLL_MS / 1000 + " s)", stamp, list));
  const path = query("/audit/alerts", { kind: params.get("kind") || "",
    severity: params.get("severity") || "", status: params.get("status") || "",
    principal: params.get("principal") || "", _count: 100 });
  const refresh = feed(list, stamp, path);
  refresh();
  const timer = setInterval(refresh, POLL_MS);
  onLeave(() => clearInterval(timer));
}
