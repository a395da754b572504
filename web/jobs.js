// jobs.js - the jobs list: newest first, live, filter by state, search.
import { api } from "./api.js";
import { store, on, loadJobs, isDone, progressOf, rateOf } from "./events.js";
import { h, scrollTable, fmtTime, fmtDur, throttle } from "./util.js";

export const JOB_STATES = ["queued", "running", "succeeded", "failed", "canceled"];

// A progress bar: succeeded, converted (not yet archived), failed and
// canceled parts of the total.
export function bar(j, label) {
  const p = progressOf(j);
  const pct = p.total ? Math.floor((100 * p.done) / p.total) : (isDone(j) ? 100 : 0);
  const part = (cls, n) => {
    const el = h("span", { class: cls });
    el.style.width = p.total ? (100 * n) / p.total + "%" : "0";
    return el;
  };
  return h("div", { class: "bar", role: "progressbar", "aria-label": label,
    "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": pct,
    "aria-valuetext": `${pct}% (${p.done} of ${p.total})` }, part("ok", p.ok), part("conv", p.conv), part("bad", p.bad), part("off", p.off));
}

export function progressText(j) {
  const p = progressOf(j), r = rateOf(j);
  let t = `${p.done} / ${p.total}`;
  const notes = [p.conv && !isDone(j) && `${p.conv} converted`, p.bad && `${p.bad} failed`,
    p.off && `${p.off} canceled`].filter(Boolean);
  if (notes.length) t += ` (${notes.join(", ")})`;
  if (r.rate != null) t += ` · ${r.rate.toFixed(1)}/s`;
  if (r.eta != null) t += ` · ETA ${fmtDur(r.eta)}`;
  return t;
}

export async function cancel(id, out) {
  try {
    await api(`/api/jobs/${id}`, { method: "DELETE" });
  } catch (e) {
    out.textContent = `Job ${id}: ${e.message}`;
  }
}

export function jobsView(el) {
  const q = h("input", { type: "search", id: "job-q", placeholder: "id or symbol", "aria-label": "Search jobs by id or symbol" });
  const state = h("select", { id: "job-state", "aria-label": "Filter by state" },
    h("option", { value: "" }, "all states"), JOB_STATES.map((s) => h("option", { value: s }, s)));
  const msg = h("p", { role: "alert", class: "error" });
  const tbody = h("tbody");
  const empty = h("p", { class: "muted" });
  const more = h("button", { type: "button", hidden: true, onclick: () => search(true) }, "Show older jobs");
  el.append(h("h2", null, "Jobs"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => e.preventDefault() },
      h("label", null, "Search ", q), h("label", null, "State ", state)),
    msg, scrollTable("Jobs", ["Job", "Type", "State", "Progress", "Done", "Created", "Actions"], tbody, "cards"), empty, more);

  const rows = new Map();
  let matches = null; // ids the server found for the search text
  let next = null, shown = 100; // the next page's cursor; rows shown

  function row(j) {
    let r = rows.get(j.id);
    if (!r) {
      const btn = h("button", { type: "button", class: "small", "aria-label": `Cancel job ${j.id}`, onclick: () => cancel(j.id, msg) }, "Cancel");
      r = { tr: h("tr", { "data-id": j.id }), cells: [], btn };
      r.cells = [0, 1, 2, 3, 4, 5, 6].map(() => h("td"));
      r.cells[0].append(h("a", { href: `#/jobs/${j.id}` }, `#${j.id}`));
      r.tr.append(...r.cells);
      rows.set(j.id, r);
    }
    const c = r.cells;
    c[1].textContent = j.type === "armstrong" ? `armstrong ${j.from}–${j.to}` : "stock";
    c[2].replaceChildren(h("span", { class: `state ${j.state}` }, j.state));
    c[3].replaceChildren(bar(j, `Progress of job ${j.id}`));
    c[4].textContent = progressText(j);
    c[5].textContent = fmtTime(j.created_at);
    c[6].replaceChildren(isDone(j) ? "" : r.btn);
    return r.tr;
  }

  const render = throttle(() => {
    const want = state.value, text = q.value.trim();
    const all = [...store.jobs.values()]
      .filter((j) => (!want || j.state === want) && (!text || matches?.has(j.id)))
      .sort((a, b) => b.id - a.id);
    const list = all.slice(0, shown);
    more.hidden = !next && all.length <= shown;
    const keep = new Set(list.map((j) => j.id));
    for (const id of rows.keys()) if (!keep.has(id)) rows.delete(id);
    tbody.replaceChildren(...list.map(row));
    empty.textContent = list.length ? "" : (text || want ? "No job matches." : "No jobs yet: start one from New job.");
  }, 200);

  // The first page for the filters, or (older) the next one.
  async function search(older = false) {
    const text = q.value.trim();
    msg.textContent = "";
    try {
      if (older) {
        shown += 100;
        if (next) {
          const r = await loadJobs(text, state.value, next);
          if (matches) r.ids.forEach((id) => matches.add(id));
          next = r.next;
        }
      } else {
        const r = await loadJobs(text, state.value);
        shown = 100;
        matches = text ? new Set(r.ids) : null;
        next = r.next;
      }
    } catch (e) {
      msg.textContent = e.message;
    }
    render();
  }
  let timer;
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => search(), 250); });
  state.addEventListener("change", () => search());

  // A job created while a search is shown joins it when it matches.
  const offJob = on("job", (id) => {
    const text = q.value.trim().toLowerCase();
    if (text && matches && !matches.has(id) && String(id) === text) matches.add(id);
    render();
  });
  const offReset = on("reset", () => search());
  render();
  search();
  const tick = setInterval(render, 1000); // rate and ETA age
  return () => { offJob(); offReset(); clearInterval(tick); };
}
