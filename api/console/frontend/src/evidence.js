// Renderers shared by the views: evidence rows, alerts, paged tables, the integrity report.
import { api, nextPath, query, segment } from "./api.js";
import { badge, clear, el, guarded, link, say, section, table } from "./dom.js";
import { shortId, when } from "./format.js";
import { href } from "./router.js";

export const ACCESS_HEADERS = ["Time (UTC)", "Principal", "Client", "Action", "Purpose",
  "Decision", "Reasons", "Status", "Returned / withheld / redacted", "Request"];
export const DISCLOSURE_HEADERS = ["Date (UTC)", "Recipient", "Client", "What", "Purpose",
  "Decision", "Request"];
const ALERT_HEADERS = ["Last seen (UTC)", "Kind", "Severity", "Principal", "Counts", "Status",
  "Summary", "Details"];

export function principalLink(sub, params) {
  return link(sub || "(none)", href("principal", Object.assign({ sub }, params || {})));
}

export function requestLink(id) {
  return link(shortId(id), href("request", { id }));
}

function decisionCell(decision) {
  const cls = decision === "deny" ? "bad" : decision === "allow" ? "ok" : "";
  return el("td", {}, badge(decision, cls));
}

export function accessRow(a) {
  const breakGlass = a.purpose_of_use === "ETREAT";
  const cls = [a.decision, breakGlass ? "break-glass" : ""].join(" ").trim();
  return el("tr", { class: cls },
    el("td", {}, when(a.time)),
    el("td", {}, principalLink(a.principal.sub)),
    el("td", {}, a.principal.client_id),
    el("td", {}, a.action + (a.resource_type ? " " + a.resource_type : "")),
    el("td", {}, a.purpose_of_use + (breakGlass ? " (break-glass)" : "")),
    decisionCell(a.decision),
    el("td", {}, a.reasons.join(", ")),
    el("td", {}, String(a.status)),
    el("td", {}, a.count_returned + " / " + a.count_withheld + " / " + a.count_redacted),
    el("td", {}, requestLink(a.request_id)));
}

export function disclosureRow(d) {
  return el("tr", { class: d.break_glass ? "break-glass" : "" },
    el("td", {}, when(d.date)),
    el("td", {}, principalLink(d.recipient.principal)),
    el("td", {}, d.recipient.client),
    el("td", {}, d.description),
    el("td", {}, d.purpose.display + (d.purpose.code ? " (" + d.purpose.code + ")" : "")),
    decisionCell(d.decision),
    el("td", {}, requestLink(d.request_id)));
}

export function alertRow(a) {
  return el("tr", {},
    el("td", {}, when(a.last_seen)),
    el("td", {}, a.kind),
    el("td", {}, badge(a.severity, "sev-" + a.severity)),
    el("td", {}, principalLink(a.principal)),
    el("td", {}, JSON.stringify(a.counts)),
    el("td", {}, a.status || ""),
    el("td", {}, a.summary),
    el("td", {}, link("Open " + a.kind + " alert", href("alerts", { id: a.id }))));
}

export function alertTable(caption, alerts) {
  return table(caption, ALERT_HEADERS, alerts.map(alertRow));
}

function countLine(body, fetched) {
  const shown = body.rows.length;
  if (!shown) return "Nothing matches (" + fetched + " fetched).";
  const denied = body.querySelectorAll("tr.deny").length;
  const breakGlass = body.querySelectorAll("tr.break-glass").length;
  return shown + " shown (" + fetched + " fetched): " + denied + " denied, " + breakGlass +
    " break-glass.";
}

// A paged table: loads `path`, appends rows, offers "Load more" while a next link exists.
export async function pagedTable(container, caption, headers, path, key, rowFn) {
  const body = el("tbody", {});
  const head = el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h))));
  const more = el("div", { class: "actions" });
  const count = el("p", { tabindex: -1 });
  container.append(el("table", {}, el("caption", {}, caption), head, body), count, more);
  let fetched = 0;
  const load = async (p) => {
    say("Loading …");
    const page = await api(p);
    const items = page[key] || [];
    for (const item of items) body.append(rowFn(item));
    fetched += items.length;
    count.textContent = countLine(body, fetched);
    const hadFocus = more.contains(document.activeElement);
    clear(more);
    const next = nextPath(page.next);
    if (next) more.append(el("button", { type: "button", onclick: guarded(() => load(next)) }, "Load more"));
    if (hadFocus) (more.querySelector("button") || count).focus();
    say("");
    return page;
  };
  return load(path);
}

function problemKinds(problems) {
  const kinds = {};
  for (const p of problems) kinds[p.kind] = (kinds[p.kind] || 0) + 1;
  return Object.entries(kinds).map(([kind, n]) => kind + ": " + n).join(", ");
}

export function renderVerify(out, report) {
  const problems = report.problems || [];
  out.append(el("p", {}, report.intact ? badge("intact", "ok") : badge("NOT intact", "bad"),
    " " + report.events_checked + " events and " + report.checkpoints_checked +
    " checkpoints checked, " + problems.length + " problems" +
    (problems.length ? " (" + problemKinds(problems) + ")" : "") + ", " +
    (report.erased || []).length + " lawfully erased."));
  if (!problems.length) return;
  out.append(table("Problems found (gaps are missing events)",
    ["Kind", "Producer", "Sequence", "Event", "Detail"],
    problems.map((p) => el("tr", {},
      el("td", {}, p.kind), el("td", {}, p.producer_id), el("td", {}, String(p.sequence)),
      el("td", {}, p.event_id), el("td", {}, p.detail)))));
}

// The integrity proof status of a period (GET /audit/verify), with "Verify again".
export function verifyBox(container, params, title) {
  const out = el("div", {});
  const box = section("verify-h", title || "Integrity of this period", out);
  container.append(box);
  const run = guarded(async () => {
    clear(out).append(el("p", {}, "Verifying …"));
    const report = await api(query("/audit/verify", params));
    renderVerify(clear(out), report);
  });
  box.append(el("button", { type: "button", onclick: run }, "Verify again"));
  run();
}

export function alertPath(id) {
  return "/audit/alerts/" + segment(id);
}
