// stockcam dashboard: polls the server's own figures.
"use strict";

const $ = (sel) => document.querySelector(sel);

function fmtUptime(s) {
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24,
    m = Math.floor(s / 60) % 60;
  return (d ? d + "d " : "") + (h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}

function renderStats(st) {
  const rows = [
    ["uptime", fmtUptime(st.uptime_s)],
    ["connections now", st.connections.now],
    ["connections total", st.connections.total],
    ["connections refused", st.connections.rejected],
    ["requests", st.requests.total],
    ["2xx / 4xx / 5xx", `${st.requests["2xx"]} / ${st.requests["4xx"]} / ${st.requests["5xx"]}`],
  ];
  $("#server").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
  $("#pools tbody").replaceChildren(...Object.entries(st.pools).map(([name, p]) => {
    const tr = document.createElement("tr");
    for (const v of [name, p.threads, p.busy, p.queued, p.queue_depth, p.completed]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  }));
}

async function refresh() {
  const badge = $("#health");
  try {
    const r = await fetch("/api/stats", { cache: "no-store" });
    if (!r.ok) throw new Error(r.status);
    renderStats(await r.json());
    badge.textContent = "up";
    badge.className = "badge ok";
  } catch (e) {
    badge.textContent = "unreachable";
    badge.className = "badge down";
  }
}

refresh();
setInterval(refresh, 2000);
