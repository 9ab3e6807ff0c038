// Pure modules of the console, run by `npm test` (node:test, no browser, no dependencies).
import assert from "node:assert/strict";
import { test } from "node:test";

import { hoursAbove, series, summary, tableRows } from "../src/activity-data.js";
import { hourLabel, isoFromLocal, localFromIso, number, shortId, when } from "../src/format.js";

const ACTIVITY = {
  principal: "dr-x",
  period: { start: "2025-01-01T00:00:00.000000+00:00", end: "2025-01-01T03:00:00.000000+00:00" },
  buckets: [
    { start: "2025-01-01T00:00:00.000000+00:00", distinct_patients: 3, requests: 3, denials: 1, break_glass: 0 },
    { start: "2025-01-01T01:00:00.000000+00:00", distinct_patients: 0, requests: 0, denials: 0, break_glass: 0 },
    { start: "2025-01-01T02:00:00.000000+00:00", distinct_patients: 1, requests: 1, denials: 0, break_glass: 1 },
  ],
  totals: { requests: 4, denials: 1, break_glass: 1, active_hours: 2, peak_distinct_patients: 3 },
  baseline: { value: 2, mean: 2.5, active_hours: 4, definition: "median" },
};

test("series: one value per hour, the baseline repeated", () => {
  const s = series(ACTIVITY);
  assert.deepEqual(s.labels, ["01-01 00:00", "01-01 01:00", "01-01 02:00"]);
  assert.deepEqual(s.patients, [3, 0, 1]);
  assert.deepEqual(s.baseline, [2, 2, 2]);
  assert.deepEqual(s.denials, [1, 0, 0]);
  assert.deepEqual(s.breakGlass, [0, 0, 1]);
});

test("hours above the baseline, none without one", () => {
  assert.equal(hoursAbove(ACTIVITY).length, 1);
  assert.equal(hoursAbove({ ...ACTIVITY, baseline: { value: null } }).length, 0);
  assert.deepEqual(series({ ...ACTIVITY, baseline: { value: null } }).baseline, [null, null, null]);
});

test("the summary says every number the chart shows", () => {
  const text = summary(ACTIVITY);
  for (const part of ["dr-x", "peak 3", "baseline 2 distinct", "1 hours above", "4 requests",
    "1 denials", "1 break-glass", "2025-01-01 00:00:00 UTC"]) {
    assert.ok(text.includes(part), part + " in " + text);
  }
  assert.ok(summary({ ...ACTIVITY, baseline: { value: null } }).includes("no baseline"));
});

test("table rows: active hours only when asked", () => {
  assert.equal(tableRows(ACTIVITY, false).length, 3);
  const rows = tableRows(ACTIVITY, true);
  assert.deepEqual(rows.map((r) => r.above), [true, false]);
  assert.equal(rows[1].breakGlass, 1);
});

test("time formats round-trip between the API and datetime-local inputs", () => {
  assert.equal(when("2025-01-01T10:20:30.123456+00:00"), "2025-01-01 10:20:30 UTC");
  assert.equal(when(""), "");
  assert.equal(isoFromLocal("2025-01-01T10:20"), "2025-01-01T10:20:00Z");
  assert.equal(isoFromLocal("2025-01-01T10:20:30"), "2025-01-01T10:20:30Z");
  assert.equal(localFromIso("2025-01-01T10:20:30Z"), "2025-01-01T10:20:30");
  assert.equal(localFromIso("2025-01-01T10:20:00.000000+00:00"), "2025-01-01T10:20");
  assert.equal(localFromIso("2025-01-01T10:00"), "2025-01-01T10:00");
  assert.equal(hourLabel("2025-03-04T05:00:00+00:00"), "03-04 05:00");
  assert.equal(shortId("0123456789abcdef"), "0123456789ab…");
  assert.equal(number(2.25), "2.3");
  assert.equal(number(null), "none");
});
