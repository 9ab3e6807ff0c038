// The principal's activity (GET /audit/principals/{sub}/activity) shaped for the chart and
// for its accessible twin, the table and the text summary. Pure: no DOM, no Chart.js.
import { hourLabel, number, when } from "./format.js";

// One array per series, one value per hour; the baseline repeats its value (null: none).
export function series(activity) {
  const buckets = activity.buckets || [];
  const base = activity.baseline ? activity.baseline.value : null;
  return {
    labels: buckets.map((b) => hourLabel(b.start)),
    patients: buckets.map((b) => b.distinct_patients),
    baseline: buckets.map(() => base),
    denials: buckets.map((b) => b.denials),
    breakGlass: buckets.map((b) => b.break_glass),
    requests: buckets.map((b) => b.requests),
  };
}

// Hours whose distinct patients exceed the baseline (none without a baseline).
export function hoursAbove(activity) {
  const base = activity.baseline ? activity.baseline.value : null;
  if (base === null || base === undefined) return [];
  return (activity.buckets || []).filter((b) => b.distinct_patients > base);
}

// One sentence describing the chart, read by screen readers as the canvas's name.
export function summary(activity) {
  const t = activity.totals || {};
  const base = activity.baseline ? activity.baseline.value : null;
  const baseText = base === null || base === undefined
    ? "no baseline (no activity in the 7 days before)"
    : "baseline " + number(base) + " distinct patients per hour";
  return "Distinct patients per hour for " + activity.principal + " from " +
    when(activity.period.start) + " to " + when(activity.period.end) + ": peak " +
    (t.peak_distinct_patients || 0) + ", " + baseText + ", " + hoursAbove(activity).length +
    " hours above it; " + (t.requests || 0) + " requests, " + (t.denials || 0) + " denials, " +
    (t.break_glass || 0) + " break-glass uses.";
}

// Rows of the table beside the chart: every hour, or only the active ones when asked.
export function tableRows(activity, activeOnly) {
  const base = activity.baseline ? activity.baseline.value : null;
  return (activity.buckets || [])
    .filter((b) => !activeOnly || b.requests > 0)
    .map((b) => ({
      hour: when(b.start),
      patients: b.distinct_patients,
      above: base !== null && base !== undefined && b.distinct_patients > base,
      requests: b.requests,
      denials: b.denials,
      breakGlass: b.break_glass,
    }));
}
