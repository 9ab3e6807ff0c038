// Exports (CSV / NDJSON) of an auditor list: the same query streamed by the auditor API.
import { api, query } from "./api.js";
import { el, guarded, say } from "./dom.js";

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

// "Export CSV" and "Export NDJSON" buttons for `base` with `filters`.
export function exportButtons(base, filters, stem) {
  const button = (format, label) => el("button", {
    type: "button",
    onclick: guarded(() => download(query(base, Object.assign({ _format: format }, filters)),
      stem + "." + format)),
  }, label);
  return el("div", { class: "actions" }, button("csv", "Export CSV"), button("ndjson", "Export NDJSON"));
}
