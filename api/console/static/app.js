// fhir-evidence console (issue 8, first slice). Vanilla JS, no framework, no CDN.
// Every data request goes to the auditor API (/audit/*) with the pasted token, so it is
// authorized and audited exactly like any other auditor read. Data is rendered with
// textContent only (never innerHTML).
"use strict";

const TOKEN_KEY = "fhir-evidence.console.token";
const POLL_MS = 5000;
let pollTimer = null;

// ---------- DOM helpers (text only) ----------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

function main() {
  return document.getElementById("main");
}

function say(text) {
  document.getElementById("status").textContent = text;
}

function fail(text) {
  document.getElementById("error").textContent = text;
}

function field(label, input) {
  return el("label", {}, label, input);
}

function table(caption, headers, rows) {
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

function badge(text, cls) {
  return el("span", { class: "badge " + (cls || "") }, text);
}

function link(text, hash) {
  return el("a", { href: hash }, text);
}

// ---------- token and the auditor API ----------

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

function tokenClaims() {
  try {
    const part = token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) {
    return {};
  }
}

class ApiError extends Error {
  constructor(status, text) {
    super(text);
    this.status = status;
  }
}

// The only place data is fetched: auditor API paths only.
async function api(path, options) {
  if (!path.startsWith("/audit/")) throw new Error("the console calls the auditor API only");
  const opts = options || {};
  const headers = { Authorization: "Bearer " + token(), Accept: opts.accept || "application/json" };
  const init = { method: opts.method || "GET", headers, credentials: "omit", cache: "no-store" };
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const response = await fetch(path, init);
  if (!response.ok) {
    let text = response.status + " " + response.statusText;
    try {
      const outcome = await response.json();
      const issue = (outcome.issue || [])[0] || {};
      text = response.status + ": " + (issue.diagnostics || issue.code || text);
    } catch (e) { /* not JSON */ }
    if (response.status === 401) text += " (log in again: the token was refused or expired)";
    throw new ApiError(response.status, text);
  }
  return opts.raw ? response : response.json();
}

function query(path, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.append(name, value);
  }
  const text = search.toString();
  return text ? path + "?" + text : path;
}

// A signed `next` link is absolute (the server's base URL): keep its path and query.
function nextPath(next) {
  if (!next) return "";
  const url = new URL(next, window.location.href);
  return url.pathname.startsWith("/audit/") ? url.pathname + url.search : "";
}

async function download(path, filename, accept) {
  say("Exporting " + filename + " …");
  const response = await api(path, { raw: true, accept });
  const blob = await response.blob();
  const href = URL.createObjectURL(blob);
  const a = el("a", { href, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
  say("Exported " + filename + ".");
}

function guarded(work) {
  return async (event) => {
    if (event) event.preventDefault();
    fail("");
    try {
      await work(event);
    } catch (e) {
      fail(e.message || String(e));
      say("");
    }
  };
}

// ---------- time helpers ----------

// <input type="datetime-local"> value (taken as UTC) to ISO 8601; "" stays "".
function isoFromLocal(value) {
  return value ? value + (value.length === 16 ? ":00Z" : "Z") : "";
}

function when(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", " UTC") : "";
}

// ---------- routing ----------

function route() {
  const hash = window.location.hash || "#/patient";
  const [path, search] = hash.slice(1).split("?");
  return { view: path.replace(/^\//, "") || "patient", params: new URLSearchParams(search || "") };
}

function go(view, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) if (value) search.set(name, value);
  const text = search.toString();
  window.location.hash = "#/" + view + (text ? "?" + text : "");
}

const VIEWS = {};

function render() {
  if (pollTimer) {
    clearInterval(pollTimer);
    pollTimer = null;
  }
  fail("");
  say("");
  renderSession();
  const root = clear(main());
  if (!token()) {
    renderLogin(root);
    return;
  }
  const { view, params } = route();
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.getAttribute("href") === "#/" + view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const draw = VIEWS[view] || VIEWS.patient;
  draw(root, params);
  const heading = root.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

// ---------- login ----------

function renderSession() {
  const box = clear(document.getElementById("session"));
  const nav = document.getElementById("nav");
  nav.hidden = !token();
  if (!token()) return;
  const claims = tokenClaims();
  box.append(
    el("span", {}, "Signed in as ", el("strong", {}, claims.sub || "?"), " (" + (claims.scope || "") + ")"),
    el("button", { type: "button", onclick: () => { sessionStorage.removeItem(TOKEN_KEY); render(); } }, "Log out"));
}

function renderLogin(root) {
  const input = el("textarea", { id: "token", name: "token", rows: 4, cols: 60, required: true,
    autocomplete: "off", spellcheck: "false" });
  const form = el("form", { class: "stack", onsubmit: (event) => {
    event.preventDefault();
    const value = input.value.trim().replace(/^Bearer\s+/i, "");
    if (!value) return;
    sessionStorage.setItem(TOKEN_KEY, value);
    render();
  } },
  field("Access token with an AuditEvent scope (e.g. system/AuditEvent.rs)", input),
  el("button", { type: "submit" }, "Log in"));
  const demo = el("button", { type: "button", onclick: guarded(demoLogin) }, "Demo login");
  root.append(
    el("h1", {}, "Log in"),
    el("p", {}, "Paste an access token. It is kept in this tab only (sessionStorage) and sent to the auditor API."),
    form,
    el("h2", {}, "Demo mode"),
    el("p", {}, "Only while the development issuer is on (no trusted issuer configured): a 15-minute auditor token for console-demo."),
    demo);
}

async function demoLogin() {
  const response = await fetch("/console/demo-token", { method: "POST", credentials: "omit" });
  if (!response.ok) throw new Error("Demo login is not available here (" + response.status + "): the development issuer is off.");
  const body = await response.json();
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  render();
}

// ---------- shared renderers ----------

function decisionCell(decision) {
  return el("td", {}, badge(decision, decision === "deny" ? "bad" : decision === "allow" ? "ok" : ""));
}

function accessRow(a) {
  const breakGlass = a.purpose_of_use === "ETREAT";
  const cls = [a.decision, breakGlass ? "break-glass" : ""].join(" ").trim();
  return el("tr", { class: cls },
    el("td", {}, when(a.time)),
    el("td", {}, link(a.principal.sub || "(none)", "#/principal?sub=" + encodeURIComponent(a.principal.sub))),
    el("td", {}, a.principal.client_id),
    el("td", {}, a.action + (a.resource_type ? " " + a.resource_type : "")),
    el("td", {}, a.purpose_of_use + (breakGlass ? " (break-glass)" : "")),
    decisionCell(a.decision),
    el("td", {}, a.reasons.join(", ")),
    el("td", {}, String(a.status)),
    el("td", {}, a.count_returned + " / " + a.count_withheld + " / " + a.count_redacted),
    el("td", {}, link(a.request_id.slice(0, 12) + "…", "#/request?id=" + encodeURIComponent(a.request_id))));
}

const ACCESS_HEADERS = ["Time (UTC)", "Principal", "Client", "Action", "Purpose", "Decision",
  "Reasons", "Status", "Returned / withheld / redacted", "Request"];

function disclosureRow(d) {
  return el("tr", { class: d.break_glass ? "break-glass" : "" },
    el("td", {}, when(d.date)),
    el("td", {}, link(d.recipient.principal, "#/principal?sub=" + encodeURIComponent(d.recipient.principal))),
    el("td", {}, d.recipient.client),
    el("td", {}, d.description),
    el("td", {}, d.purpose.display + (d.purpose.code ? " (" + d.purpose.code + ")" : "")),
    decisionCell(d.decision),
    el("td", {}, link(d.request_id.slice(0, 12) + "…", "#/request?id=" + encodeURIComponent(d.request_id))));
}

const DISCLOSURE_HEADERS = ["Date (UTC)", "Recipient", "Client", "What", "Purpose", "Decision", "Request"];

// A paged table: loads `path`, appends rows, offers "Load more" while a next link exists.
async function pagedTable(container, caption, headers, path, key, rowFn) {
  const body = el("tbody", {});
  const tbl = el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    body);
  const more = el("div", { class: "actions" });
  const count = el("p", { tabindex: -1 });
  container.append(tbl, count, more);
  let fetched = 0;
  const load = async (p) => {
    say("Loading …");
    const page = await api(p);
    const items = page[key] || [];
    for (const item of items) body.append(rowFn(item));
    fetched += items.length;
    const shown = body.rows.length;
    const denied = body.querySelectorAll("tr.deny").length;
    const breakGlass = body.querySelectorAll("tr.break-glass").length;
    count.textContent = shown
      ? shown + " shown (" + fetched + " fetched): " + denied + " denied, " + breakGlass + " break-glass."
      : "Nothing matches (" + fetched + " fetched).";
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

function verifyBox(container, params) {
  const box = el("section", { "aria-labelledby": "verify-h" }, el("h2", { id: "verify-h" }, "Integrity of this period"));
  container.append(box);
  const out = el("div", {});
  box.append(out);
  const run = guarded(async () => {
    clear(out).append(el("p", {}, "Verifying …"));
    const report = await api(query("/audit/verify", params));
    renderVerify(clear(out), report);
  });
  box.append(el("button", { type: "button", onclick: run }, "Verify again"));
  run();
}

function renderVerify(out, report) {
  out.append(
    el("p", {}, report.intact ? badge("intact", "ok") : badge("NOT intact", "bad"),
      " " + report.events_checked + " events and " + report.checkpoints_checked + " checkpoints checked, " +
      report.problems.length + " problems, " + (report.erased || []).length + " lawfully erased."));
  if (report.problems.length) {
    out.append(table("Problems found", ["Kind", "Producer", "Sequence", "Event", "Detail"],
      report.problems.map((p) => el("tr", {},
        el("td", {}, p.kind), el("td", {}, p.producer_id), el("td", {}, String(p.sequence)),
        el("td", {}, p.event_id), el("td", {}, p.detail)))));
  }
}

function filterForm(fields, onsubmit) {
  const form = el("form", { class: "filters", onsubmit }, fields, el("button", { type: "submit" }, "Show"));
  return form;
}

function textInput(name, value, extra) {
  return el("input", Object.assign({ id: "f-" + name, name, value: value || "", autocomplete: "off" }, extra || {}));
}

function timeInput(name, value) {
  return el("input", { id: "f-" + name, name, type: "datetime-local", step: 1,
    value: value ? value.replace(/Z$/, "").replace(/:00$/, "") : "" });
}

function decisionSelect(value) {
  return el("select", { id: "f-decision", name: "decision" },
    ["", "allow", "deny", "partial"].map((d) =>
      el("option", { value: d, selected: d === (value || "") }, d || "any")));
}

function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) {
    values[name] = form.elements[name].type === "datetime-local" ? isoFromLocal(String(value)) : String(value).trim();
  }
  return values;
}

// ---------- views ----------

VIEWS.patient = (root, params) => {
  const id = params.get("id") || "";
  const mode = params.get("mode") || "accesses";
  root.append(el("h1", {}, "Patient" + (id ? ": " + id : "")));
  const form = filterForm([
    field("Patient id", textInput("id", id, { required: true })),
    field("Show", el("select", { id: "f-mode", name: "mode" },
      el("option", { value: "accesses", selected: mode === "accesses" }, "every access"),
      el("option", { value: "disclosures", selected: mode === "disclosures" }, "accounting of disclosures"))),
    field("Since (UTC)", timeInput("since", params.get("since"))),
    field("Until (UTC)", timeInput("until", params.get("until"))),
    field("Principal", textInput("principal", params.get("principal"))),
    field("Decision (accesses)", decisionSelect(params.get("decision"))),
  ], (event) => { event.preventDefault(); go("patient", formValues(event.target)); });
  root.append(form);
  if (!id) {
    root.append(el("p", {}, "Enter a patient id. The console shows evidence only (pseudonymous rows), never clinical content."));
    return;
  }
  const since = params.get("since") || "";
  const until = params.get("until") || "";
  const principal = params.get("principal") || "";
  const base = "/audit/patients/" + encodeURIComponent(id) + "/" + mode;
  const filters = mode === "accesses"
    ? { since, until, decision: params.get("decision") || "" }
    : { since, until };
  const results = el("section", { "aria-label": "Results" });
  root.append(results);
  const exports = el("div", { class: "actions" },
    el("button", { type: "button", onclick: guarded(() => download(query(base, Object.assign({ _format: "csv" }, filters)), id + "-" + mode + ".csv")) }, "Export CSV"),
    el("button", { type: "button", onclick: guarded(() => download(query(base, Object.assign({ _format: "ndjson" }, filters)), id + "-" + mode + ".ndjson")) }, "Export NDJSON"));
  results.append(exports);
  if (principal) {
    results.append(el("p", {}, "Principal filter: only rows of " + principal + " are shown (exports hold every principal)."));
  }
  const rowFn = mode === "accesses"
    ? (a) => (principal && a.principal.sub !== principal ? document.createDocumentFragment() : accessRow(a))
    : (d) => (principal && d.recipient.principal !== principal ? document.createDocumentFragment() : disclosureRow(d));
  const caption = mode === "accesses" ? "Accesses to " + id + " (newest first)" : "Disclosures of " + id + " (newest first)";
  guarded(() => pagedTable(results, caption, mode === "accesses" ? ACCESS_HEADERS : DISCLOSURE_HEADERS,
    query(base, filters), mode, rowFn))();
  verifyBox(root, { since, until });
};

VIEWS.principal = (root, params) => {
  const sub = params.get("sub") || "";
  root.append(el("h1", {}, "Principal" + (sub ? ": " + sub : "")));
  root.append(filterForm([
    field("Principal (sub)", textInput("sub", sub, { required: true })),
    field("Since (UTC)", timeInput("since", params.get("since"))),
    field("Until (UTC)", timeInput("until", params.get("until"))),
    field("Decision", decisionSelect(params.get("decision"))),
  ], (event) => { event.preventDefault(); go("principal", formValues(event.target)); }));
  if (!sub) {
    root.append(el("p", {}, "Enter a principal's subject (sub)."));
    return;
  }
  const filters = { since: params.get("since") || "", until: params.get("until") || "", decision: params.get("decision") || "" };
  const base = "/audit/principals/" + encodeURIComponent(sub) + "/accesses";
  const alerts = el("section", { "aria-labelledby": "pa-h" }, el("h2", { id: "pa-h" }, "Alerts for " + sub));
  const activity = el("section", { "aria-labelledby": "act-h" }, el("h2", { id: "act-h" }, "Activity"),
    el("p", {}, "Denials are shaded red, partial answers yellow, break-glass (ETREAT) rows marked with a red bar."),
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: guarded(() => download(query(base, Object.assign({ _format: "csv" }, filters)), sub + "-accesses.csv")) }, "Export CSV"),
      el("button", { type: "button", onclick: guarded(() => download(query(base, Object.assign({ _format: "ndjson" }, filters)), sub + "-accesses.ndjson")) }, "Export NDJSON")));
  root.append(alerts, activity);
  guarded(async () => {
    const page = await api(query("/audit/alerts", { principal: sub, _count: 50 }));
    alerts.append(page.alerts.length ? alertTable("Alerts (newest first)", page.alerts) : el("p", {}, "No alerts."));
  })();
  guarded(() => pagedTable(activity, "Accesses by " + sub + " (newest first)", ACCESS_HEADERS,
    query(base, filters), "accesses", accessRow))();
};

VIEWS.request = (root, params) => {
  const id = params.get("id") || "";
  root.append(el("h1", {}, "Request" + (id ? ": " + id : "")));
  root.append(filterForm([field("Request id (X-Request-ID)", textInput("id", id, { required: true, size: 40 }))],
    (event) => { event.preventDefault(); go("request", formValues(event.target)); }));
  if (!id) return;
  const out = el("section", { "aria-label": "Lifecycle" });
  root.append(out);
  guarded(async () => {
    const r = await api("/audit/requests/" + encodeURIComponent(id));
    out.append(el("h2", {}, "Lifecycle"));
    for (const stage of r.lifecycle) {
      out.append(el("h3", {}, stage.stage));
      const facts = el("dl", { class: "facts" });
      for (const [name, value] of Object.entries(stage)) {
        if (name === "stage") continue;
        facts.append(el("dt", {}, name), el("dd", {}, typeof value === "object" ? JSON.stringify(value) : String(value)));
      }
      out.append(facts);
    }
    out.append(el("h2", {}, "Events of this request"),
      table("Events", ACCESS_HEADERS, r.events.map(accessRow)));
    if (r.alerts.length) out.append(el("h2", {}, "Alerts fed by this request"), alertTable("Alerts", r.alerts));
    const proof = el("p", {});
    out.append(el("h2", {}, "Proof"), proof);
    try {
      const p = await api("/audit/requests/" + encodeURIComponent(id) + "/proof");
      const first = (p.proofs || [p])[0] || {};
      proof.textContent = "Sealed in a signed checkpoint" + (first.tree_size ? " (tree size " + first.tree_size + ")" : "") + ".";
    } catch (e) {
      proof.textContent = e.status === 404 ? "Not yet covered by a signed checkpoint (≤ 10 s after storage)." : e.message;
    }
  })();
};

function alertTable(caption, alerts, actions) {
  const headers = ["Last seen (UTC)", "Kind", "Severity", "Principal", "Counts", "Status", "Summary", "Details"];
  return table(caption, headers, alerts.map((a) => el("tr", {},
    el("td", {}, when(a.last_seen)),
    el("td", {}, a.kind),
    el("td", {}, badge(a.severity, "sev-" + a.severity)),
    el("td", {}, link(a.principal, "#/principal?sub=" + encodeURIComponent(a.principal))),
    el("td", {}, JSON.stringify(a.counts)),
    el("td", {}, a.status || ""),
    el("td", {}, a.summary),
    el("td", {}, link("Open " + a.kind + " alert", "#/alerts?id=" + encodeURIComponent(a.id))))));
}

VIEWS.alerts = (root, params) => {
  const id = params.get("id");
  if (id) {
    renderAlert(root, id);
    return;
  }
  root.append(el("h1", {}, "Alerts"));
  const kinds = ["", "bulk_access_spike", "denied_burst", "enumeration", "break_glass", "export",
    "vip_access", "staff_record_access", "same_surname", "after_hours", "dormant_principal"];
  root.append(filterForm([
    field("Kind", el("select", { id: "f-kind", name: "kind" },
      kinds.map((k) => el("option", { value: k, selected: k === (params.get("kind") || "") }, k || "any")))),
    field("Status", el("select", { id: "f-status", name: "status" },
      ["", "open", "acknowledged", "suppressed"].map((s) => el("option", { value: s, selected: s === (params.get("status") || "") }, s || "any")))),
    field("Principal", textInput("principal", params.get("principal"))),
  ], (event) => { event.preventDefault(); go("alerts", formValues(event.target)); }));
  const live = el("section", { "aria-labelledby": "live-h" },
    el("h2", { id: "live-h" }, "Feed (refreshed every 5 s)"));
  const list = el("div", {});
  const stamp = el("p", {});
  live.append(stamp, list);
  root.append(live);
  const path = query("/audit/alerts", { kind: params.get("kind") || "", status: params.get("status") || "",
    principal: params.get("principal") || "", _count: 100 });
  let last = null;
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const page = await api(path);
      const seen = JSON.stringify(page.alerts);
      if (seen !== last) {
        // redraw only on change, and keep keyboard focus on the same link
        const focused = list.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
        last = seen;
        clear(list).append(page.alerts.length ? alertTable("Alerts (newest first)", page.alerts) : el("p", {}, "No alerts."));
        const again = focused && [...list.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused);
        if (again) again.focus();
      }
      stamp.textContent = "Updated " + new Date().toISOString().slice(11, 19) + " UTC.";
    } catch (e) {
      fail(e.message);
    }
  };
  refresh();
  pollTimer = setInterval(refresh, POLL_MS);
};

function renderAlert(root, id) {
  root.append(el("h1", {}, "Alert " + id), el("p", {}, link("Back to all alerts", "#/alerts")));
  const out = el("div", {});
  root.append(out);
  guarded(async () => {
    const a = await api("/audit/alerts/" + encodeURIComponent(id));
    const facts = el("dl", { class: "facts" });
    const rows = [["Kind", a.kind], ["Severity", a.severity], ["Status", a.status], ["Principal", a.principal],
      ["First seen", when(a.time)], ["Last seen", when(a.last_seen)],
      ["Window", when(a.window.start) + " + " + a.window.seconds + " s"], ["Counts", JSON.stringify(a.counts)],
      ["Summary", a.summary], ["Rule version", a.rule_version]];
    for (const [name, value] of rows) facts.append(el("dt", {}, name), el("dd", {}, String(value)));
    out.append(facts);
    out.append(actionForm(id));
    out.append(table("Actions taken", ["At (UTC)", "Action", "By", "Reason", "Until", "Request"],
      a.actions.map((x) => el("tr", {}, el("td", {}, when(x.at)), el("td", {}, x.action), el("td", {}, x.by),
        el("td", {}, x.reason), el("td", {}, when(x.until || "")),
        el("td", {}, link(x.request_id.slice(0, 12) + "…", "#/request?id=" + encodeURIComponent(x.request_id)))))));
    out.append(table("Evidence behind this alert", ACCESS_HEADERS, a.evidence.map(accessRow)));
  })();
}

function actionForm(id) {
  const reason = el("textarea", { id: "a-reason", name: "reason", rows: 2, cols: 60, required: true,
    maxlength: 500, "aria-describedby": "a-reason-help" });
  const action = el("select", { id: "a-action", name: "action" },
    el("option", { value: "acknowledge" }, "acknowledge"), el("option", { value: "suppress" }, "suppress"));
  const until = el("input", { id: "a-until", name: "until", type: "datetime-local", step: 1 });
  const form = el("form", { class: "stack", onsubmit: guarded(async () => {
    const body = { reason: reason.value.trim() };
    if (action.value === "suppress" && until.value) body.until = isoFromLocal(until.value);
    await api("/audit/alerts/" + encodeURIComponent(id) + "/" + action.value, { method: "POST", body });
    render();
    say("Recorded: " + action.value + " (its own evidence event).");
  }) },
  el("h2", {}, "Acknowledge or suppress"),
  field("Action", action),
  field("Reason (1–500 characters, recorded as evidence)", reason),
  el("p", { id: "a-reason-help" }, "Plain text; no patient identifiers. Acting needs AuditEvent write permission (e.g. system/AuditEvent.rus)."),
  field("Suppress until (UTC, optional; default: end of the alert's episode)", until),
  el("button", { type: "submit" }, "Record"));
  return form;
}

VIEWS.integrity = (root) => {
  root.append(el("h1", {}, "Integrity"));
  verifyBox(root, {});
  const cps = el("section", { "aria-labelledby": "cp-h" }, el("h2", { id: "cp-h" }, "Latest signed checkpoints"));
  root.append(cps);
  guarded(async () => {
    const page = await api("/audit/checkpoints?_count=20");
    cps.append(table("Checkpoints (newest first)", ["Time (UTC)", "Producer", "Tree size", "Root", "Key id"],
      page.checkpoints.map((c) => el("tr", {}, el("td", {}, when(c.time)), el("td", {}, c.producer_id),
        el("td", {}, String(c.tree_size)), el("td", {}, el("code", {}, (c.root || "").slice(0, 16) + "…")),
        el("td", {}, el("code", {}, (c.kid || "").slice(0, 12) + "…"))))));
  })();
};

window.addEventListener("hashchange", render);
document.addEventListener("DOMContentLoaded", render);
