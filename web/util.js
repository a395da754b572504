// util.js - small DOM and formatting helpers shared by the views.

// h("a", {href: "#/jobs", onclick: fn}, "text", child...) -> element.
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value") el.value = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid != null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

// A table inside a box of its own that scrolls sideways on a phone.
export function scrollTable(label, head, tbody, cls) {
  return h("div", { class: "scroll", role: "region", "aria-label": label, tabindex: 0 },
    h("table", { class: cls }, h("thead", null, h("tr", null, head.map((c) => h("th", { scope: "col" }, c)))), tbody));
}

export function dl(rows) {
  return rows.flatMap(([k, v]) => [h("dt", null, k), h("dd", null, v ?? "–")]);
}

export function fmtBytes(n) {
  if (n == null) return "–";
  const u = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

export function fmtDur(s) {
  if (s == null || !isFinite(s)) return "–";
  s = Math.max(0, Math.round(s));
  const d = Math.floor(s / 86400), hh = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return (d ? d + "d " : "") + (d || hh ? hh + "h " : "") + (d || hh || m ? m + "m " : "") + (s % 60) + "s";
}

export function fmtTime(iso) {
  if (!iso) return "–";
  const t = new Date(iso);
  return isNaN(t) ? iso : t.toLocaleString();
}

export function fmtNum(n, digits = 0) {
  return n == null ? "–" : Number(n).toFixed(digits);
}

// Calls fn at most once per `ms`, the last call always landing.
export function throttle(fn, ms) {
  let timer = null, last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => { timer = null; last = Date.now(); fn(); }, wait);
  };
}
