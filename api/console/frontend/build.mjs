// Bundles the console (src/main.js and src/app.css) into ../static/dist/app.js and app.css:
// one script and one style sheet from this origin, as the console's strict CSP requires.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

await build({
  entryPoints: [
    { in: here("src/main.js"), out: "app" },
    { in: here("src/app.css"), out: "app" },
  ],
  outdir: here("../static/dist"),
  bundle: true,
  format: "iife",
  target: ["es2022"],
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  logLevel: "info",
});
