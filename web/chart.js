// chart.js - small live line charts in inline SVG, drawn here.
const NS = "http://www.w3.org/2000/svg";
const W = 300, H = 80;

function svg(tag, attrs) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

// chart(title, [{name, points: [[t ms, value]...]}], spanMs) -> <figure>
export function chart(title, series, span = 300000) {
  const now = Date.now();
  const max = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])));
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: last 5 minutes, peak ${+max.toFixed(2)}`, preserveAspectRatio: "none" });
  root.append(svg("line", { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: "axis" }));
  series.forEach((s, i) => {
    const pts = s.points.map(([t, v]) => `${(W * (1 - (now - t) / span)).toFixed(1)},${(H - 2 - (H - 4) * v / max).toFixed(1)}`);
    root.append(svg("polyline", { points: pts.join(" "), class: `line s${i}`, fill: "none" }));
  });
  const fig = document.createElement("figure");
  fig.className = "chart";
  const cap = document.createElement("figcaption");
  const last = series.map((s) => `${s.name} ${+(s.points.at(-1)?.[1] ?? 0).toFixed(2)}`).join(" · ");
  cap.append(`${title} (max ${+max.toFixed(2)})`, document.createElement("br"));
  series.forEach((s, i) => {
    const k = document.createElement("span");
    k.className = `key s${i}`;
    k.textContent = `${s.name} ${+(s.points.at(-1)?.[1] ?? 0).toFixed(2)}`;
    cap.append(k, " ");
  });
  fig.title = last;
  fig.append(root, cap);
  return fig;
}
