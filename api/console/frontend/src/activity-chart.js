// The principal's distinct patients per hour against its baseline, drawn by Chart.js (bundled
// from npm; it styles its canvas through the CSSOM only, which the strict CSP allows), with
// the same numbers as a table beside it and as the canvas's accessible name.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController,
  LineElement, PointElement, Tooltip,
} from "chart.js";

import { el, table } from "./dom.js";
import { number } from "./format.js";
import { series, summary, tableRows } from "./activity-data.js";

Chart.register(BarController, BarElement, CategoryScale, Legend, LinearScale, LineController,
  LineElement, PointElement, Tooltip);

const COLORS = { patients: "#1f5fa8", baseline: "#6b6b6b", denials: "#b00020", glass: "#e69500" };

function datasets(s) {
  return [
    { type: "line", label: "Distinct patients", data: s.patients, borderColor: COLORS.patients,
      backgroundColor: COLORS.patients, yAxisID: "y", pointRadius: 2, order: 1 },
    { type: "line", label: "Baseline (median)", data: s.baseline, borderColor: COLORS.baseline,
      backgroundColor: COLORS.baseline, borderDash: [6, 4], pointRadius: 0, yAxisID: "y",
      order: 2 },
    { type: "bar", label: "Denials", data: s.denials, backgroundColor: COLORS.denials,
      yAxisID: "y2", order: 3 },
    { type: "bar", label: "Break-glass uses", data: s.breakGlass, backgroundColor: COLORS.glass,
      yAxisID: "y2", order: 4 },
  ];
}

function options() {
  return {
    animation: false,
    responsive: true,
    maintainAspectRatio: false,
    interaction: { mode: "index", intersect: false },
    scales: {
      x: { title: { display: true, text: "Hour (UTC)" } },
      y: { beginAtZero: true, position: "left", title: { display: true, text: "Distinct patients" },
        ticks: { precision: 0 } },
      y2: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false },
        title: { display: true, text: "Denials, break-glass uses" }, ticks: { precision: 0 } },
    },
    plugins: { legend: { position: "bottom" } },
  };
}

function hourTable(activity, id) {
  const rows = tableRows(activity, true).map((r) => el("tr", { class: r.above ? "above" : "" },
    el("th", { scope: "row" }, r.hour),
    el("td", {}, String(r.patients) + (r.above ? " (above baseline)" : "")),
    el("td", {}, String(r.requests)), el("td", {}, String(r.denials)),
    el("td", {}, String(r.breakGlass))));
  const caption = "Active hours of " + activity.principal + " (silent hours omitted)";
  const headers = ["Hour (UTC)", "Distinct patients", "Requests", "Denials", "Break-glass uses"];
  const tbl = table(caption, headers, rows.length ? rows : []);
  tbl.id = id;
  return tbl;
}

function baselineText(activity) {
  const b = activity.baseline;
  const value = b.value === null
    ? "Baseline: none, no request in the 7 days before the period. "
    : "Baseline: " + number(b.value) + " distinct patients per hour (median; mean " +
      number(b.mean) + ", over " + b.active_hours + " active hours). ";
  return value + b.definition;
}

// Draws the chart into `container`; returns a function that destroys it.
export function activityChart(container, activity) {
  const canvas = el("canvas", { role: "img", "aria-label": summary(activity),
    "aria-describedby": "activity-table" });
  const box = el("div", { class: "chart-box" }, canvas);
  container.append(
    box,
    el("p", { class: "note" }, baselineText(activity)),
    hourTable(activity, "activity-table"));
  const s = series(activity);
  const chart = new Chart(canvas, { data: { labels: s.labels, datasets: datasets(s) }, options: options() });
  return () => chart.destroy();
}
