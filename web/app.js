// app.js - the dashboard's entry: hash routes, the connection badge.
import { connect, reload, on, store } from "./events.js";
import { jobsView } from "./jobs.js";
import { jobView } from "./job.js";
import { newView } from "./new.js";
import { archivesView } from "./archives.js";
import { cameraView } from "./camera.js";
import { serverView } from "./server.js";

const routes = [
  [/^#\/jobs\/(\d+)$/, jobView, "Job"],
  [/^#\/jobs$/, jobsView, "Jobs"],
  [/^#\/new$/, newView, "New job"],
  [/^#\/archives$/, archivesView, "Archives"],
  [/^#\/camera$/, cameraView, "Camera"],
  [/^#\/server$/, serverView, "Server"],
];

const main = document.getElementById("view");
let leave = null, first = true;

function route() {
  if (!routes.some(([re]) => re.test(location.hash))) {
    history.replaceState(null, "", "#/jobs");
  }
  const hash = location.hash;
  const [re, view, title] = routes.find(([r]) => r.test(hash));
  if (leave) leave();
  main.replaceChildren();
  leave = view(main, ...hash.match(re).slice(1)) || null;
  document.title = `${title} · stockcam`;
  const section = "#/" + hash.split("/")[1];
  for (const a of document.querySelectorAll("nav a")) {
    if (a.getAttribute("href") === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  // Keyboard and screen-reader users land on the new view.
  if (!first) main.focus({ preventScroll: true });
  first = false;
}

const badge = document.getElementById("conn");
function showConn(state) {
  badge.textContent = state;
  badge.dataset.state = state;
  badge.title = { live: "live updates from the server", reconnecting: "connection lost, reconnecting",
    offline: "no live updates from the server", connecting: "connecting" }[state] || state;
}
on("conn", showConn);
showConn(store.conn);

window.addEventListener("hashchange", route);
connect();
reload();
route();
