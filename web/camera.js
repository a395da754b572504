// camera.js - the live stream (only while this view is shown), a
// snapshot, and the camera's figures.
import { api } from "./api.js";
import { store, on } from "./events.js";
import { h, dl, fmtNum } from "./util.js";

// States (idle, starting, live, stalled, failed) that mean no picture.
const TROUBLE = { failed: "The camera failed", stalled: "No signal: the camera has stalled", "no-signal": "No signal" };

export function cameraView(el) {
  const img = h("img", { id: "stream", alt: "Live camera stream", width: 640, height: 480 });
  const status = h("p", { role: "status", class: "muted" });
  const figures = h("dl", { class: "summary" });
  const shot = h("div", { class: "snapshot" });
  const btn = h("button", { type: "button", onclick: snapshot }, "Take snapshot");
  let url = null;

  el.append(h("h2", null, "Camera"), status, h("figure", { class: "camera" }, img), btn, shot,
    h("h3", null, "Figures"), figures);

  function render(c) {
    if (!c) return;
    if (c.width && c.height) { img.width = c.width; img.height = c.height; }
    const trouble = TROUBLE[c.state];
    status.className = trouble ? "error" : "muted";
    status.textContent = trouble ? `${trouble}${c.error ? ": " + c.error : ""}` : `Camera ${c.state}`;
    figures.replaceChildren(...dl([["Source", c.source], ["State", c.state], ["Size", `${c.width}×${c.height}`],
      ["Frames per second", `${fmtNum(c.fps_delivered, 1)} of ${c.fps_wanted} wanted`], ["Viewers", c.viewers],
      ["Encode time", `${fmtNum(c.encode_ms, 2)} ms`], ["Frames dropped", c.frames_dropped],
      ["Quality", c.quality], ["Last error", c.error || "none"]]));
  }

  async function snapshot() {
    btn.disabled = true;
    try {
      const r = await fetch("/snapshot.jpg", { cache: "no-store" });
      if (!r.ok) {
        const p = await r.json().catch(() => null);
        throw new Error(p?.detail || `snapshot: ${r.status} ${r.statusText}`);
      }
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(await r.blob());
      const name = `snapshot-${new Date().toISOString().replace(/[:.]/g, "-")}.jpg`;
      shot.replaceChildren(h("img", { src: url, alt: "Snapshot from the camera", id: "snapshot" }),
        h("a", { href: url, download: name }, "Download snapshot"));
    } catch (e) {
      shot.replaceChildren(h("p", { class: "error", role: "alert" }, e.message));
    }
    btn.disabled = false;
  }

  img.addEventListener("load", () => load(), { once: true }); // first frame: figures now
  img.addEventListener("error", () => {
    if (img.getAttribute("src")) status.textContent = "The stream is not available.";
  });
  img.src = "/stream.mjpg";
  const off = on("camera", render);
  render(store.camera);
  const load = () => api("/api/camera").then(render, (e) => { status.textContent = e.message; });
  load();
  // Without the event stream, ask now and then (an older server).
  const timer = setInterval(() => store.live || load(), 2000);
  return () => {
    off();
    clearInterval(timer);
    img.removeAttribute("src"); // ends the stream: the server stops sending
    img.remove();
    if (url) URL.revokeObjectURL(url);
  };
}
