// job.js - one job: summary, progress, every symbol (failed first) or the
// search's range and results.
import { fileUrl, archiveUrl } from "./api.js";
import { store, on, watch, unwatch, isDone } from "./events.js";
import { bar, progressText, cancel } from "./jobs.js";
import { h, dl, scrollTable, fmtTime, fmtBytes, throttle } from "./util.js";

const SYMBOL_STATES = ["queued", "fetching", "converting", "archiving", "succeeded", "failed", "canceled"];

function symbolRow(id, s) {
  const err = s.error ? h("span", { class: "error" }, h("code", null, s.error.code), " ", s.error.message) : "";
  return h("tr", { "data-symbol": s.symbol },
    h("td", null, s.index + 1),
    h("th", { scope: "row" }, s.symbol),
    h("td", null, h("span", { class: `state ${s.state}` }, s.state)),
    h("td", null, s.attempts ?? "–"),
    h("td", null, s.http_status ?? "–"),
    h("td", null, s.rows ?? "–"),
    h("td", null, fmtBytes(s.bytes)),
    h("td", { class: "wrap" }, err),
    h("td", null, s.state === "succeeded" ? h("a", { href: fileUrl(id, s.symbol), "aria-label": `XML of ${s.symbol}` }, "XML") : ""),
    h("td", null, s.archive ? h("a", { href: archiveUrl(s.archive), download: s.archive }, s.archive) : ""));
}

export function jobView(el, idText) {
  const id = Number(idText);
  const title = h("h2", null, `Job ${id}`);
  const msg = h("p", { role: "alert", class: "error" });
  const summary = h("dl", { class: "summary" });
  const progress = h("div", { class: "progress" });
  const actions = h("div");
  const body = h("div");
  el.append(title, msg, progress, summary, actions, body);

  const text = h("input", { type: "search", id: "sym-q", "aria-label": "Filter symbols", placeholder: "symbol or error" });
  const state = h("select", { id: "sym-state", "aria-label": "Filter symbols by state" },
    h("option", { value: "" }, "all states"), SYMBOL_STATES.map((s) => h("option", { value: s }, s)));
  const tbody = h("tbody");
  const count = h("p", { class: "muted", "aria-live": "polite" });
  const cancelBtn = h("button", { type: "button", onclick: () => cancel(id, msg) }, "Cancel job");
  let built = "", loaded = false;

  function buildBody(j) {
    if (built === j.type) return;
    built = j.type;
    if (j.type === "armstrong") return;
    body.replaceChildren(h("h3", null, "Symbols"),
      h("form", { class: "filters", onsubmit: (e) => e.preventDefault() },
        h("label", null, "Filter ", text), h("label", null, "State ", state)),
      count,
      scrollTable("Symbols of the job", ["#", "Symbol", "State", "Attempts", "HTTP", "Rows", "Bytes", "Error", "XML", "Archive"], tbody));
  }

  function renderSymbols() {
    const w = store.watched.get(id);
    if (!w) return;
    if (!loaded) {
      count.textContent = "Loading the symbols…";
      return;
    }
    const t = text.value.trim().toLowerCase(), st = state.value;
    const all = [...w.values()];
    const list = all.filter((s) => (!st || s.state === st) &&
      (!t || s.symbol.toLowerCase().includes(t) || (s.error && (s.error.code + " " + s.error.message).toLowerCase().includes(t))))
      .sort((a, b) => (b.state === "failed") - (a.state === "failed") || a.index - b.index);
    tbody.replaceChildren(...list.map((s) => symbolRow(id, s)));
    count.textContent = `${list.length} of ${all.length} symbols shown`;
  }

  const render = throttle(() => {
    const j = store.jobs.get(id);
    if (!j) return;
    progress.replaceChildren(bar(j, `Progress of job ${id}`), h("span", { class: "muted" }, progressText(j)));
    const rows = [["Type", j.type], ["State", h("span", { class: `state ${j.state}` }, j.state)],
      ["Created", fmtTime(j.created_at)], ["Started", fmtTime(j.started_at)], ["Finished", fmtTime(j.finished_at)]];
    if (j.type === "armstrong") {
      const p = j.progress || {};
      rows.push(["Range", `${j.from} – ${j.to}`], ["Method", j.method ?? "–"],
        ["Examined", `${p.examined ?? 0} of ${p.total ?? 0}`], ["Chunks", `${p.chunks_done ?? 0} of ${p.chunks ?? 0}`],
        ["Results", Array.isArray(j.result) ? (j.result.length ? j.result.join(", ") : "none") : "–"]);
    }
    summary.replaceChildren(...dl(rows));
    actions.replaceChildren(isDone(j) ? "" : cancelBtn);
    buildBody(j);
    if (j.type !== "armstrong") renderSymbols();
  }, 250);

  text.addEventListener("input", renderSymbols);
  state.addEventListener("change", renderSymbols);
  const off = on("job", (jid) => {
    if (jid !== id) return;
    if (loaded && !store.jobs.has(id)) msg.textContent = `Job ${id} has expired: the server no longer keeps it.`;
    render();
  });
  watch(id).then(() => { loaded = true; render(); }, (e) => {
    msg.textContent = e.status === 404 ? `There is no job ${id}.` : e.message;
  });
  if (store.jobs.has(id)) render();
  const tick = setInterval(render, 1000);
  return () => { off(); clearInterval(tick); unwatch(id); };
}
