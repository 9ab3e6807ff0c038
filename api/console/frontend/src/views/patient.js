// Patient view: every access to a patient, or its accounting of disclosures, newest first;
// filters period, principal, decision; exports; the integrity proof status of the period.
import { query, segment } from "../api.js";
import { el, field, guarded } from "../dom.js";
import {
  ACCESS_HEADERS, DISCLOSURE_HEADERS, accessRow, disclosureRow, pagedTable, verifyBox,
} from "../evidence.js";
import { exportButtons } from "../exports.js";
import { decisionSelect, filterForm, formValues, periodFields, textInput } from "../forms.js";
import { go } from "../router.js";

const MODES = { accesses: "every access", disclosures: "accounting of disclosures" };

function modeSelect(mode) {
  return el("select", { id: "f-mode", name: "mode" }, Object.entries(MODES).map(([value, text]) =>
    el("option", { value, selected: value === mode }, text)));
}

function form(params, id, mode) {
  return filterForm([
    field("Patient id", textInput("id", id, { required: true })),
    field("Show", modeSelect(mode)),
    ...periodFields(params),
    field("Principal", textInput("principal", params.get("principal"))),
    field("Decision (accesses)", decisionSelect(params.get("decision"))),
  ], (event) => {
    event.preventDefault();
    go("patient", formValues(event.target));
  });
}

function filtersOf(params, mode) {
  const filters = { since: params.get("since") || "", until: params.get("until") || "",
    principal: params.get("principal") || "" };
  if (mode === "accesses") filters.decision = params.get("decision") || "";
  return filters;
}

export function patientView(root, params) {
  const id = params.get("id") || "";
  const mode = MODES[params.get("mode")] ? params.get("mode") : "accesses";
  root.append(el("h1", {}, "Patient" + (id ? ": " + id : "")), form(params, id, mode));
  if (!id) {
    root.append(el("p", {}, "Enter a patient id. The console shows evidence only " +
      "(pseudonymous rows), never clinical content."));
    return;
  }
  const filters = filtersOf(params, mode);
  const base = "/audit/patients/" + segment(id) + "/" + mode;
  const results = el("section", { "aria-label": "Results" });
  root.append(results);
  results.append(exportButtons(base, filters, id + "-" + mode));
  const accesses = mode === "accesses";
  const caption = (accesses ? "Accesses to " : "Disclosures of ") + id + " (newest first)";
  guarded(() => pagedTable(results, caption, accesses ? ACCESS_HEADERS : DISCLOSURE_HEADERS,
    query(base, filters), mode, accesses ? accessRow : disclosureRow))();
  verifyBox(root, { since: filters.since, until: filters.until });
}
