// Request view: the whole lifecycle of one request id, its events, its alerts, its proof.
import { api, segment } from "../api.js";
import { el, field, guarded, section, table } from "../dom.js";
import { ACCESS_HEADERS, accessRow, alertTable } from "../evidence.js";
import { filterForm, formValues, textInput } from "../forms.js";
import { go } from "../router.js";

function stageFacts(stage) {
  const facts = el("dl", { class: "facts" });
  for (const [name, value] of Object.entries(stage)) {
    if (name === "stage") continue;
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    facts.append(el("dt", {}, name), el("dd", {}, text));
  }
  return facts;
}

async function proofText(id) {
  try {
    const p = await api("/audit/requests/" + segment(id) + "/proof");
    const first = (p.proofs || [p])[0] || {};
    const size = first.tree_size ? " (tree size " + first.tree_size + ")" : "";
    return "Sealed in a signed checkpoint" + size + ".";
  } catch (e) {
    if (e.status === 404) return "Not yet covered by a signed checkpoint (≤ 10 s after storage).";
    return e.message;
  }
}

async function load(out, id) {
  const r = await api("/audit/requests/" + segment(id));
  const stages = r.lifecycle.map((stage) => [el("h3", {}, stage.stage), stageFacts(stage)]);
  out.append(
    section("lc-h", "Lifecycle", stages.flat()),
    section("ev-h", "Events of this request", table("Events", ACCESS_HEADERS, r.events.map(accessRow))));
  if (r.alerts.length) {
    out.append(section("al-h", "Alerts fed by this request", alertTable("Alerts", r.alerts)));
  }
  const proof = el("p", {}, "Checking …");
  out.append(section("pr-h", "Proof", proof));
  proof.textContent = await proofText(id);
}

export function requestView(root, params) {
  const id = params.get("id") || "";
  root.append(el("h1", {}, "Request" + (id ? ": " + id : "")));
  root.append(filterForm([field("Request id (X-Request-ID)", textInput("id", id, { required: true, size: 40 }))],
    (event) => {
      event.preventDefault();
      go("request", formValues(event.target));
    }));
  if (!id) return;
  const out = el("div", {});
  root.append(out);
  guarded(() => load(out, id))();
}
