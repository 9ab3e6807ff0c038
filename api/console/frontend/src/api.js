// The one module that talks to the server. Every data request goes to the auditor API
// (/audit/*) with the token of this tab, so it is authorized and audited exactly like any
// other auditor read; the only other call is the demo login (POST /console/demo-token).

const TOKEN_KEY = "fhir-evidence.console.token";
const AUDIT_PREFIX = "/audit/";

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

// The token's claims, for display only (the server checks the signature, never the console).
export function tokenClaims() {
  try {
    const part = token().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part));
  } catch (e) {
    return {};
  }
}

export class ApiError extends Error {
  constructor(status, text) {
    super(text);
    this.status = status;
  }
}

async function problem(response) {
  let text = response.status + " " + response.statusText;
  try {
    const outcome = await response.json();
    const issue = (outcome.issue || [])[0] || {};
    text = response.status + ": " + (issue.diagnostics || issue.code || text);
  } catch (e) {
    // not JSON: keep the status line
  }
  if (response.status === 401) text += " (log in again: the token was refused or expired)";
  return text;
}

// The only place data is fetched: auditor API paths only.
export async function api(path, options) {
  if (!path.startsWith(AUDIT_PREFIX)) throw new Error("the console calls the auditor API only");
  const opts = options || {};
  const headers = { Authorization: "Bearer " + token(), Accept: opts.accept || "application/json" };
  const init = { method: opts.method || "GET", headers, credentials: "omit", cache: "no-store" };
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw new ApiError(response.status, await problem(response));
  return opts.raw ? response : response.json();
}

// Demo mode only: a short-lived auditor token from the development issuer.
export async function demoToken() {
  const response = await fetch("/console/demo-token", { method: "POST", credentials: "omit" });
  if (!response.ok) {
    throw new Error("Demo login is not available here (" + response.status +
      "): the development issuer is off.");
  }
  return (await response.json()).access_token;
}

// `path` with the non-empty `params` as its query string.
export function query(path, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.append(name, value);
  }
  const text = search.toString();
  return text ? path + "?" + text : path;
}

// A signed `next` link is absolute (the server's base URL): keep its path and query.
export function nextPath(next) {
  if (!next) return "";
  const url = new URL(next, window.location.href);
  return url.pathname.startsWith(AUDIT_PREFIX) ? url.pathname + url.search : "";
}

export function segment(value) {
  return encodeURIComponent(value);
}
