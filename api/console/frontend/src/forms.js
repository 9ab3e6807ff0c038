// Filter forms: every input has a label; values go to the hash route, not to the server.
import { el, field } from "./dom.js";
import { isoFromLocal, localFromIso } from "./format.js";

export const DECISIONS = ["allow", "deny", "partial"];

export function filterForm(fields, onsubmit) {
  return el("form", { class: "filters", onsubmit }, fields, el("button", { type: "submit" }, "Show"));
}

export function textInput(name, value, extra) {
  const attrs = { id: "f-" + name, name, value: value || "", autocomplete: "off" };
  return el("input", Object.assign(attrs, extra || {}));
}

export function timeInput(name, value) {
  return el("input", { id: "f-" + name, name, type: "datetime-local", step: 1,
    value: localFromIso(value || "") });
}

// A <select> of `values` with a first "any" option (value "").
export function choice(name, values, selected, anyLabel) {
  const options = ["", ...values].map((v) =>
    el("option", { value: v, selected: v === (selected || "") }, v || anyLabel || "any"));
  return el("select", { id: "f-" + name, name }, options);
}

export function decisionSelect(value) {
  return choice("decision", DECISIONS, value);
}

export function periodFields(params) {
  return [
    field("Since (UTC)", timeInput("since", params.get("since"))),
    field("Until (UTC)", timeInput("until", params.get("until"))),
  ];
}

export function formValues(form) {
  const values = {};
  for (const [name, value] of new FormData(form).entries()) {
    const local = form.elements[name].type === "datetime-local";
    values[name] = local ? isoFromLocal(String(value)) : String(value).trim();
  }
  return values;
}
