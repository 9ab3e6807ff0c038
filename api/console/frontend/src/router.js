// Hash routes (#/view?param=…): the views, what to stop when leaving one, re-rendering.

let renderer = () => {};
const cleanups = [];

export function route() {
  const hash = window.location.hash || "#/patient";
  const [path, search] = hash.slice(1).split("?");
  return { view: path.replace(/^\//, "") || "patient", params: new URLSearchParams(search || "") };
}

export function href(view, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) if (value) search.set(name, value);
  const text = search.toString();
  return "#/" + view + (text ? "?" + text : "");
}

export function go(view, params) {
  const target = href(view, params);
  if (window.location.hash === target) rerender();
  else window.location.hash = target;
}

export function setRenderer(fn) {
  renderer = fn;
}

export function rerender() {
  renderer();
}

// Something to stop when the view changes (a poll timer, a chart).
export function onLeave(fn) {
  cleanups.push(fn);
}

export function leave() {
  while (cleanups.length) cleanups.pop()();
}
