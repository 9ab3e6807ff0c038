// One alert: its facts, acknowledge / suppress with a reason (recorded as evidence), what was
// done about it, and the drill-down to its evidence rows and the principal's accesses.
import { api, segment } from "../api.js";
import { el, field, guarded, link, say, section, table } from "../dom.js";
import { ACCESS_HEADERS, accessRow, alertPath, requestLink } from "../evidence.js";
import { isoFromLocal, when } from "../format.js";
import { href, rerender } from "../router.js";

function facts(a) {
  const dl = el("dl", { class: "facts" });
  const rows = [["Kind", a.kind], ["Severity", a.severity], ["Status", a.status],
    ["Principal", a.principal], ["First seen", when(a.time)], ["Last seen", when(a.last_seen)],
    ["Window", when(a.window.start) + " + " + a.window.seconds + " s"],
    ["Counts", JSON.stringify(a.counts)], ["Summary", a.summary], ["Rule version", a.rule_version]];
  // Why it fired: the rule, the baseline or peer group it judged by, the threshold.
  for (const [name, value] of Object.entries(a.explanation || {})) {
    if (name !== "rule_version") rows.push(["Why: " + name.replaceAll("_", " "), value]);
  }
  for (const [name, value] of rows) dl.append(el("dt", {}, name), el("dd", {}, String(value)));
  return dl;
}

// The principal's accesses from the alert's window start to its last sighting.
function drillLinks(a) {
  const end = new Date(Date.parse(a.last_seen) + 1000).toISOString();
  const window = { sub: a.principal, since: a.window.start, until: end };
  return el("ul", { class: "links" },
    el("li", {}, link("Accesses of " + a.principal + " during this alert", href("principal", window))),
    el("li", {}, link("Activity of " + a.principal + " (last 24 hours)", href("principal", { sub: a.principal }))));
}

function actionForm(id) {
  const reason = el("textarea", { id: "a-reason", name: "reason", rows: 2, cols: 60, required: true,
    maxlength: 500, "aria-describedby": "a-reason-help" });
  const action = el("select", { id: "a-action", name: "action" },
    el("option", { value: "acknowledge" }, "acknowledge"), el("option", { value: "suppress" }, "suppress"));
  const until = el("input", { id: "a-until", name: "until", type: "datetime-local", step: 1 });
  const record = guarded(async () => {
    const body = { reason: reason.value.trim() };
    if (action.value === "suppress" && until.value) body.until = isoFromLocal(until.value);
    await api(alertPath(id) + "/" + action.value, { method: "POST", body });
    rerender();
    say("Recorded: " + action.value + " (its own evidence event).");
  });
  return el("form", { class: "stack", onsubmit: record },
    el("h2", {}, "Acknowledge or suppress"),
    field("Action", action),
    field("Reason (1–500 characters, recorded as evidence)", reason),
    el("p", { id: "a-reason-help" }, "Plain text; no patient identifiers. Acting needs " +
      "AuditEvent write permission (e.g. system/AuditEvent.rus)."),
    field("Suppress until (UTC, optional; default: end of the alert's episode)", until),
    el("button", { type: "submit" }, "Record"));
}

function actionsTable(actions) {
  return table("Actions taken", ["At (UTC)", "Action", "By", "Reason", "Until", "Request"],
    actions.map((x) => el("tr", {}, el("td", {}, when(x.at)), el("td", {}, x.action),
      el("td", {}, x.by), el("td", {}, x.reason), el("td", {}, when(x.until || "")),
      el("td", {}, requestLink(x.request_id)))));
}

export function alertView(root, id) {
  root.append(el("h1", {}, "Alert " + id), el("p", {}, link("Back to all alerts", href("alerts"))));
  const out = el("div", {});
  root.append(out);
  guarded(async () => {
    const a = await api("/audit/alerts/" + segment(id));
    out.append(facts(a), actionForm(id), actionsTable(a.actions),
      section("evid-h", "Evidence behind this alert", drillLinks(a),
        table("Evidence rows (" + a.evidence.length + ")", ACCESS_HEADERS, a.evidence.map(accessRow))));
  })();
}
