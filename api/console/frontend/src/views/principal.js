// Principal view: distinct patients per hour against the principal's baseline (chart and
// table), break-glass uses, alerts, denials and every access, with exports.
import { api, query, segment } from "../api.js";
import { activityChart } from "../activity-chart.js";
import { el, field, guarded, section, table } from "../dom.js";
import {
  ACCESS_HEADERS, accessRow, alertTable, pagedTable, requestLink,
} from "../evidence.js";
import { exportButtons } from "../exports.js";
import { when } from "../format.js";
import { decisionSelect, filterForm, formValues, periodFields, textInput } from "../forms.js";
import { go, onLeave } from "../router.js";

function form(params, sub) {
  return filterForm([
    field("Principal (sub)", textInput("sub", sub, { required: true })),
    ...periodFields(params),
    field("Decision", decisionSelect(params.get("decision"))),
  ], (event) => {
    event.preventDefault();
    go("principal", formValues(event.target));
  });
}

function breakGlassTable(uses) {
  if (!uses.length) return el("p", {}, "No break-glass uses in this period.");
  return table("Break-glass uses (newest first, at most 100)",
    ["Time (UTC)", "Action", "Resource type", "Decision", "Status", "Request"],
    uses.map((u) => el("tr", { class: "break-glass" },
      el("td", {}, when(u.time)), el("td", {}, u.action), el("td", {}, u.resource_type),
      el("td", {}, u.decision), el("td", {}, String(u.status)),
      el("td", {}, requestLink(u.request_id)))));
}

async function loadActivity(chartBox, glassBox, sub, period) {
  const activity = await api(query("/audit/principals/" + segment(sub) + "/activity", period));
  onLeave(activityChart(chartBox, activity));
  glassBox.append(breakGlassTable(activity.break_glass_uses));
}

async function loadAlerts(box, sub) {
  const page = await api(query("/audit/alerts", { principal: sub, _count: 50 }));
  box.append(page.alerts.length ? alertTable("Alerts (newest first)", page.alerts)
    : el("p", {}, "No alerts."));
}

export function principalView(root, params) {
  const sub = params.get("sub") || "";
  root.append(el("h1", {}, "Principal" + (sub ? ": " + sub : "")), form(params, sub));
  if (!sub) {
    root.append(el("p", {}, "Enter a principal's subject (sub)."));
    return;
  }
  const period = { since: params.get("since") || "", until: params.get("until") || "" };
  const filters = Object.assign({ decision: params.get("decision") || "" }, period);
  const base = "/audit/principals/" + segment(sub) + "/accesses";
  const chartBox = section("chart-h", "Distinct patients per hour",
    el("p", {}, "Against the principal's baseline; default period: the last 24 hours."));
  const glassBox = section("bg-h", "Break-glass uses");
  const alertBox = section("pa-h", "Alerts for " + sub);
  const denialBox = section("den-h", "Denials");
  const accessBox = section("act-h", "Accesses",
    el("p", {}, "Denials are shaded red, partial answers yellow, break-glass (ETREAT) rows " +
      "marked with a red bar."),
    exportButtons(base, filters, sub + "-accesses"));
  root.append(chartBox, glassBox, alertBox, denialBox, accessBox);
  guarded(() => loadActivity(chartBox, glassBox, sub, period))();
  guarded(() => loadAlerts(alertBox, sub))();
  guarded(() => pagedTable(denialBox, "Denials of " + sub + " (newest first)", ACCESS_HEADERS,
    query(base, Object.assign({ decision: "deny", _count: 20 }, period)), "accesses", accessRow))();
  guarded(() => pagedTable(accessBox, "Accesses by " + sub + " (newest first)", ACCESS_HEADERS,
    query(base, filters), "accesses", accessRow))();
}
