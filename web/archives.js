// archives.js - the .tgz archives written so far, with download links.
import { archiveUrl } from "./api.js";
import { store, on, loadArchives } from "./events.js";
import { h, scrollTable, fmtBytes, fmtTime } from "./util.js";

export function archivesView(el) {
  const tbody = h("tbody");
  const msg = h("p", { class: "muted", "aria-live": "polite" });
  el.append(h("h2", null, "Archives"), msg, scrollTable("Archives", ["Name", "Size", "Entries", "Written"], tbody));

  function render() {
    const list = [...store.archives.values()].sort((a, b) =>
      (b.mtime || "").localeCompare(a.mtime || "") || b.name.localeCompare(a.name));
    tbody.replaceChildren(...list.map((a) => h("tr", null,
      h("th", { scope: "row" }, h("a", { href: archiveUrl(a.name), download: a.name }, a.name)),
      h("td", null, fmtBytes(a.bytes)), h("td", null, a.entries ?? "–"), h("td", null, fmtTime(a.mtime)))));
    msg.textContent = list.length ? `${list.length} archive${list.length === 1 ? "" : "s"}` : "No archives yet.";
  }
  const off = on("archives", render);
  render();
  loadArchives().catch((e) => { msg.textContent = e.message; });
  return off;
}
