// DOM helpers. Data is only ever written as text (textContent / text nodes), never as HTML.

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

// The polite status line (screen readers announce it) and the error box (role=alert).
export function say(text) {
  byId("status").textContent = text;
}

export function fail(text) {
  byId("error").textContent = text;
}

export function field(label, input) {
  return el("label", {}, label, input);
}

export function table(caption, headers, rows) {
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, rows));
}

export function badge(text, cls) {
  return el("span", { class: "badge " + (cls || "") }, text);
}

export function link(text, hash) {
  return el("a", { href: hash }, text);
}

export function section(id, title, ...children) {
  return el("section", { "aria-labelledby": id }, el("h2", { id }, title), ...children);
}

// An event handler (or a plain task) whose errors are shown in the error box.
export function guarded(work) {
  return async (event) => {
    if (event && event.preventDefault) event.preventDefault();
    fail("");
    try {
      await work(event);
    } catch (e) {
      fail(e.message || String(e));
      say("");
    }
  };
}

// Moves keyboard focus to `node` (made focusable by script only).
export function focus(node) {
  if (!node) return;
  if (!node.hasAttribute("tabindex")) node.setAttribute("tabindex", "-1");
  node.focus();
}
