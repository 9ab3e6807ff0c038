// Integrity view: the verification of everything stored and the latest signed checkpoints.
import { api } from "../api.js";
import { el, guarded, section, table } from "../dom.js";
import { verifyBox } from "../evidence.js";
import { when } from "../format.js";

function checkpointRow(c) {
  return el("tr", {},
    el("td", {}, when(c.time)), el("td", {}, c.producer_id), el("td", {}, String(c.tree_size)),
    el("td", {}, el("code", {}, (c.root || "").slice(0, 16) + "…")),
    el("td", {}, el("code", {}, (c.kid || "").slice(0, 12) + "…")));
}

export function integrityView(root) {
  root.append(el("h1", {}, "Integrity"));
  verifyBox(root, {}, "Integrity of all evidence (gaps, alterations, forgeries)");
  const cps = section("cp-h", "Latest signed checkpoints");
  root.append(cps);
  guarded(async () => {
    const page = await api("/audit/checkpoints?_count=20");
    cps.append(table("Checkpoints (newest first)", ["Time (UTC)", "Producer", "Tree size", "Root", "Key id"],
      page.checkpoints.map(checkpointRow)));
  })();
}
