// events.js - the page's one EventSource on /api/events and the state it
// feeds: jobs (by id, newest version wins), the symbols of the jobs a view
// watches, archives, the last five minutes of figures, the camera.
import { api } from "./api.js";

export const store = {
  jobs: new Map(),      // id -> summary (+ samples for rate and ETA)
  watched: new Map(),   // id -> Map(index -> symbol entry with _v)
  archives: new Map(),  // name -> archive
  stats: [],            // [{t, s}] for the last 5 minutes
  camera: null,
  conn: "connecting",
  live: false,          // events are flowing (no need to poll)
};

const topics = new Map();
// on("job" | "archives" | "stats" | "camera" | "conn" | "reset", fn) -> off()
export function on(topic, fn) {
  if (!topics.has(topic)) topics.set(topic, new Set());
  topics.get(topic).add(fn);
  return () => topics.get(topic).delete(fn);
}
function emit(topic, arg) {
  for (const fn of topics.get(topic) || []) fn(arg);
}

export const isDone = (j) => ["succeeded", "failed", "canceled"].includes(j.state);

// Work done so far and in all, for progress bars and rates.
export function progressOf(j) {
  const p = j.progress || {};
  if (j.type === "armstrong") {
    return { total: p.total || 0, done: p.examined || 0, ok: p.examined || 0, bad: 0, off: 0, conv: 0 };
  }
  // conv: converted, waiting for its archive (batches are packed by 100s).
  const bad = p.failed || 0, off = p.canceled || 0, conv = p.archiving || 0;
  return { total: p.total || 0, done: (p.succeeded || 0) + bad + off, ok: p.succeeded || 0, bad, off, conv };
}

// Keep samples of the last 20 s of progress of a running job.
function sample(j, old) {
  const now = performance.now() / 1000;
  const samples = (old?.samples || []).filter((x) => now - x.t < 20);
  const p = progressOf(j);
  samples.push({ t: now, done: p.done + p.conv });
  return samples;
}

// Items per second and seconds left, from the job's samples (null if unknown).
export function rateOf(j) {
  const s = j.samples || [];
  if (isDone(j) || s.length < 2) return { rate: null, eta: null };
  const a = s[0], b = s[s.length - 1];
  const dt = performance.now() / 1000 - a.t;
  if (dt < 1) return { rate: null, eta: null };
  const rate = (b.done - a.done) / dt;
  const left = progressOf(j).total - b.done;  // b.done counts converted
  return { rate, eta: rate > 0 ? left / rate : null };
}

// A job summary or a full job, from a list, a reply or an event. Older
// versions than the one held are ignored. Returns whether it was taken.
export function applyJob(j) {
  const old = store.jobs.get(j.id);
  if (old && old.version > j.version) return false;
  const { symbols, ...sum } = j;
  sum.samples = sample(j, old);
  store.jobs.set(j.id, sum);
  const w = store.watched.get(j.id);
  if (w && Array.isArray(symbols)) {
    symbols.forEach((s, i) => {
      const idx = s.index ?? i;
      const cur = w.get(idx);
      if (!cur || cur._v <= j.version) w.set(idx, { ...cur, ...s, index: idx, _v: j.version });
    });
  }
  emit("job", j.id);
  return true;
}

// Watch a job's symbols (the detail view): its summary, then its symbols
// a page at a time in index order (the view sorts them), keeping what
// newer events brought meanwhile. A server without the symbols pages
// gets the whole job.
export async function watch(id) {
  if (!store.watched.has(id)) store.watched.set(id, new Map());
  const j = await api(`/api/jobs/${id}?view=summary`);
  if (!store.watched.has(id)) return j;
  applyJob(j);
  if (j.type !== "stock") return j;
  for (let off = 0; ; off += 1000) {
    let page;
    try {
      page = await api(`/api/jobs/${id}/symbols?limit=1000&offset=${off}`);
    } catch (e) {
      if (e.status !== 404 || off) throw e;
      applyJob(await api(`/api/jobs/${id}`));
      break;
    }
    const w = store.watched.get(id);
    if (!w) break;
    for (const s of page.symbols) {
      const cur = w.get(s.index);
      if (!cur || cur._v <= page.version) w.set(s.index, { ...cur, ...s, _v: page.version });
    }
    if (off + page.symbols.length >= page.total || !page.symbols.length) break;
  }
  emit("job", id);
  return j;
}
export const unwatch = (id) => store.watched.delete(id);

export function applyArchive(a) {
  store.archives.set(a.name, a);
  emit("archives");
}

// A page of the jobs list (newest first): {ids, next} (next: its cursor).
export async function loadJobs(q = "", state = "", cursor = "") {
  const qs = new URLSearchParams({ limit: 100 });
  if (q) qs.set("q", q);
  if (state) qs.set("state", state);
  if (cursor) qs.set("cursor", cursor);
  const r = await api(`/api/jobs?${qs}`);
  for (const j of r.jobs) applyJob(j);
  return { ids: r.jobs.map((j) => j.id), next: r.next_cursor };
}

export async function loadArchives() {
  const r = await api("/api/archives");
  store.archives = new Map(r.archives.map((a) => [a.name, a]));
  emit("archives");
}

// Everything the lists show, fetched again (start-up, reset, polling).
export async function reload() {
  try {
    // Jobs the server no longer lists go, but not older pages shown.
    const { ids, next } = await loadJobs();
    const keep = new Set(ids), oldest = next ? Math.min(...ids) : 0;
    for (const id of store.jobs.keys()) {
      if (id > oldest && !keep.has(id) && !store.watched.has(id)) store.jobs.delete(id);
    }
    await loadArchives();
    for (const id of store.watched.keys()) await watch(id).catch(() => {});
  } catch { /* shown by the connection badge */ }
  emit("reset");
}

// The figures of the minutes before the page opened: `history` rows.
function applyHistory(h) {
  const rows = h.samples || [], now = Date.now();
  if (!rows.length || store.stats.length > rows.length) return;
  const up = rows[rows.length - 1][0];
  store.stats = rows.map(([u, created, done, fq, cq, pq]) => ({
    t: now - (up - u) * 1000,
    s: { jobs: { created }, symbols: { succeeded: done, failed: 0 },
      pools: { fetch: { queued: fq }, convert: { queued: cq }, cpu: { queued: pq } } },
  }));
}

function applyStats(s) {
  const t = Date.now();
  store.stats.push({ t, s });
  while (store.stats.length && t - store.stats[0].t > 300000) store.stats.shift();
  if (s.camera) store.camera = s.camera;
  emit("stats", s);
  if (s.camera) emit("camera", s.camera);
}

function setConn(state) {
  if (store.conn === state) return;
  store.conn = state;
  emit("conn", state);
}

let es = null, lastId = "", everOpen = false, downSince = 0, pollTimer = null;

function handle(type, fn) {
  es.addEventListener(type, (e) => {
    if (e.lastEventId) lastId = e.lastEventId;
    let data;
    try { data = JSON.parse(e.data); } catch { return; }
    fn(data);
  });
}

// Without an event stream (an older server): fetch the lists now and then.
function poll() {
  clearTimeout(pollTimer);
  if (store.live) return;
  reload();
  api("/api/stats").then(applyStats, () => {});
  pollTimer = setTimeout(poll, 3000);
}

export function connect() {
  const url = "/api/events" + (lastId ? "?last_event_id=" + encodeURIComponent(lastId) : "");
  es = new EventSource(url);
  es.onopen = () => {
    everOpen = true;
    downSince = 0;
    store.live = true;
    setConn("live");
  };
  es.onerror = () => {
    store.live = false;
    downSince ||= Date.now();
    if (es.readyState === EventSource.CLOSED) {
      // Refused for good (an HTTP error): try again later, fetch meanwhile.
      es.close();
      setConn(everOpen ? "reconnecting" : "offline");
      setTimeout(connect, everOpen ? 2000 : 15000);
      poll();
    } else {
      setConn(Date.now() - downSince > 30000 ? "offline" : "reconnecting");
    }
  };
  for (const t of ["job.created", "job.changed", "job.finished"]) handle(t, applyJob);
  handle("job.removed", (d) => {
    store.jobs.delete(d.id);
    emit("job", d.id);
  });
  handle("archive", applyArchive);
  handle("camera", (c) => {
    store.camera = c;
    emit("camera", c);
  });
  handle("stats", applyStats);
  handle("history", applyHistory);
  handle("reset", () => reload());
}
