// Small DOM helpers. Text from the API is always set as text (never parsed as HTML).

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = Boolean(v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let uid = 0;

// A labelled control: Playwright and screen readers find it by its label.
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++uid}`;
  return h(
    "div",
    { class: "field" },
    h("label", { for: control.id }, label),
    control,
    hint ? h("small", {}, hint) : null,
  );
}

export function input(name, attrs = {}) {
  return h("input", { name, ...attrs });
}

export function textarea(name, attrs = {}) {
  const el = h("textarea", { name, rows: attrs.rows || 4, ...attrs });
  if (attrs.value !== undefined) el.value = attrs.value;
  return el;
}

export function select(name, options, value, attrs = {}) {
  return h(
    "select",
    { name, ...attrs },
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h("option", { value: v, selected: v === value ? "selected" : null }, text);
    }),
  );
}

export function checkbox(name, checked, label) {
  const box = h("input", { type: "checkbox", name, checked });
  return field(label, box);
}

export function button(text, onclick, attrs = {}) {
  return h("button", { type: "button", onclick: guard(onclick), ...attrs }, text);
}

// A form whose submit runs `onsubmit(values, form)`; errors are shown, not swallowed.
export function form(label, children, onsubmit, submitText = "Save") {
  const f = h("form", { "aria-label": label }, children, h("button", { type: "submit" }, submitText));
  f.addEventListener("submit", (event) => {
    event.preventDefault();
    guard(() => onsubmit(values(f), f))();
  });
  return f;
}

export function values(formEl) {
  const out = {};
  for (const el of formEl.elements) {
    if (!el.name) continue;
    out[el.name] = el.type === "checkbox" ? el.checked : el.value;
  }
  return out;
}

export function section(title, ...children) {
  return h("section", { "aria-label": title }, h("h2", {}, title), children);
}

export function table(caption, columns, rows) {
  return h(
    "table",
    {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.title)))),
    h(
      "tbody",
      {},
      rows.length === 0
        ? h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, "Nothing here yet."))
        : rows.map((r) => h("tr", {}, columns.map((c) => h("td", {}, c.cell(r))))),
    ),
  );
}

// Any JSON value as nested tables and lists (reports, audit before/after, tool arguments).
export function view(value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (Array.isArray(value)) {
    if (value.length === 0) return h("span", { class: "muted" }, "none");
    if (value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v)))];
      return table(null, keys.map((k) => ({ title: k, cell: (r) => view(r[k]) })), value);
    }
    return h("ul", {}, value.map((v) => h("li", {}, view(v))));
  }
  if (typeof value === "object") {
    return h(
      "dl",
      { class: "kv" },
      Object.entries(value).map(([k, v]) => [h("dt", {}, k), h("dd", {}, view(v))]),
    );
  }
  if (typeof value === "number") return String(Math.round(value * 10000) / 10000);
  return String(value);
}

export function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = false;
}

export function clearError() {
  const box = document.getElementById("error");
  box.textContent = "";
  box.hidden = true;
}

export function notify(message) {
  const box = document.getElementById("notice");
  box.textContent = message;
  box.hidden = false;
}

// Run an async action; an API error (its status and message) is shown to the admin.
export function guard(action) {
  return async (...args) => {
    clearError();
    try {
      await action(...args);
    } catch (err) {
      showError(err && err.message ? err.message : String(err));
    }
  };
}

export function download(blob, filename) {
  const link = h("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toISOString().replace("T", " ").slice(0, 19);
}

export function replace(container, ...children) {
  container.replaceChildren();
  append(container, children);
}
