// server.js - the server's own figures and live charts of the last five
// minutes, from the `stats` events.
import { api } from "./api.js";
import { store, on } from "./events.js";
import { h, dl, scrollTable, fmtDur } from "./util.js";
import { chart } from "./chart.js";

// Per-second rates of a counter between successive ticks.
function rates(get) {
  const out = [], st = store.stats;
  for (let i = 1; i < st.length; i++) {
    const dt = (st[i].t - st[i - 1].t) / 1000;
    const dv = (get(st[i].s) ?? 0) - (get(st[i - 1].s) ?? 0);
    if (dt > 0) out.push([st[i].t, Math.max(0, dv / dt)]);
  }
  return out;
}

export function serverView(el) {
  const health = h("dl", { class: "summary" });
  const figures = h("dl", { class: "summary" });
  const reqs = h("tbody"), pools = h("tbody");
  const charts = h("div", { class: "charts" });
  el.append(h("h2", null, "Server"), health,
    h("h3", null, "Live"), charts,
    h("h3", null, "Connections and jobs"), figures,
    h("h3", null, "Requests"), scrollTable("Requests by class", ["total", "1xx", "2xx", "3xx", "4xx", "5xx"], reqs),
    h("h3", null, "Worker pools"), scrollTable("Worker pools", ["Pool", "Threads", "Busy", "Queued", "Depth", "Completed", "Canceled", "Rejected"], pools));

  function showHealth(x) {
    health.replaceChildren(...dl([["Health", h("span", { class: `state ${x.status === "ok" ? "succeeded" : "failed"}` }, x.status)],
      ["Version", x.version]]));
  }
  const loadHealth = () => api("/api/health").then(showHealth,
    (e) => showHealth({ status: e.message, version: "–" }));

  function render(s) {
    if (!s) return;
    const c = s.connections || {}, j = s.jobs || {}, y = s.symbols || {};
    figures.replaceChildren(...dl([["Uptime", fmtDur(s.uptime_s)],
      ["Connections", `${c.now} now, ${c.total} in all, ${c.rejected} refused`],
      ["Jobs", `${j.queued} queued, ${j.running} running, ${j.succeeded} succeeded, ${j.failed} failed, ${j.canceled} canceled`],
      ["Symbols", Object.entries(y).map(([k, v]) => `${v} ${k}`).join(", ")]]));
    const r = s.requests || {};
    reqs.replaceChildren(h("tr", null, ["total", "1xx", "2xx", "3xx", "4xx", "5xx"].map((k) => h("td", null, r[k] ?? 0))));
    pools.replaceChildren(...Object.entries(s.pools || {}).map(([name, p]) => h("tr", null, h("th", { scope: "row" }, name),
      [p.threads, p.busy, p.queued, p.queue_depth, p.completed, p.canceled, p.rejected].map((v) => h("td", null, v ?? "–")))));
    const names = Object.keys(s.pools || {});
    charts.replaceChildren(
      chart("Jobs per second", [{ name: "created", points: rates((x) => x.jobs?.created) }]),
      chart("Symbols per second", [{ name: "done", points: rates((x) => (x.symbols?.succeeded ?? 0) + (x.symbols?.failed ?? 0)) }]),
      chart("Queue depths", names.map((n) => ({ name: n, points: store.stats.map((x) => [x.t, x.s.pools?.[n]?.queued ?? 0]) }))));
  }

  const offStats = on("stats", render);
  const offReset = on("reset", loadHealth);
  loadHealth();
  // Rows from `history` hold only the charts' figures.
  if (store.stats.at(-1)?.s.connections) render(store.stats.at(-1).s);
  else api("/api/stats").then(render, () => {});
  return () => { offStats(); offReset(); };
}
