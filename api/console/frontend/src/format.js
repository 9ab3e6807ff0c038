// Pure text formatting (no DOM): times in UTC, form values, short ids.

// An ISO 8601 instant as "YYYY-MM-DD HH:MM:SS UTC"; "" stays "".
export function when(iso) {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/\.\d+/, "").replace(/(\+00:00|Z)$/, " UTC");
}

// The hour an ISO instant starts, for chart axes: "MM-DD HH:00".
export function hourLabel(iso) {
  return iso ? iso.slice(5, 10) + " " + iso.slice(11, 13) + ":00" : "";
}

// <input type="datetime-local"> value (taken as UTC) to ISO 8601; "" stays "".
export function isoFromLocal(value) {
  if (!value) return "";
  return value + (value.length === 16 ? ":00Z" : "Z");
}

// ISO 8601 (UTC) back to a datetime-local value.
export function localFromIso(iso) {
  if (!iso) return "";
  return iso.replace(/(\.\d+)?(Z|\+00:00)$/, "").replace(/(T\d\d:\d\d):00$/, "$1");
}

export function shortId(id) {
  return id && id.length > 12 ? id.slice(0, 12) + "…" : id || "";
}

// A number for reading aloud and in tables: integers as they are, else one decimal.
export function number(value) {
  if (value === null || value === undefined) return "none";
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
