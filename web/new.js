// new.js - starting jobs: symbols checked as you type with the server's
// rules (GET /api/config), and an Armstrong range [from, to) (the server
// checks the range and says what is wrong).
import { api, config } from "./api.js";
import { applyJob } from "./events.js";
import { h } from "./util.js";

export const splitSymbols = (text) => text.split(/[\s,]+/).filter(Boolean);

// What is wrong with a list of symbols, one message per problem.
export function symbolProblems(list, cfg) {
  const re = new RegExp(cfg.symbol_pattern);
  const out = [], seen = new Map();
  for (const s of list) {
    seen.set(s, (seen.get(s) || 0) + 1);
    if (seen.get(s) > 1) continue;
    if (re.test(s)) continue;
    if (s.length > cfg.symbol_max_len) {
      out.push(`“${s}” is ${s.length} characters long; at most ${cfg.symbol_max_len} are allowed.`);
    } else if (!re.test(s[0])) {
      out.push(`“${s}” cannot start with “${s[0]}”.`);
    } else {
      const bad = [...s.slice(1)].find((c) => !re.test(s[0] + c));
      out.push(bad ? `“${s}” contains “${bad}”, which is not allowed in a symbol.` : `“${s}” is not a valid symbol.`);
    }
  }
  for (const [s, n] of seen) if (n > 1) out.push(`“${s}” is listed ${n} times; each symbol may appear once.`);
  if (cfg.max_symbols && list.length > cfg.max_symbols) {
    out.push(`${list.length} symbols: at most ${cfg.max_symbols} are allowed in one job.`);
  }
  return out;
}

async function submit(body, msg, btn) {
  msg.textContent = "";
  btn.disabled = true;
  try {
    const j = await api("/api/jobs", { method: "POST", body });
    applyJob(j);
    location.hash = `#/jobs/${j.id}`;
  } catch (e) {
    msg.textContent = e.message;
    btn.disabled = false;
  }
}

export function newView(el) {
  let cfg = null;
  const ta = h("textarea", { id: "symbols", rows: 6, spellcheck: "false", autocapitalize: "characters",
    "aria-describedby": "symbols-help symbols-problems", placeholder: "AAPL MSFT 000001.SZ" });
  const help = h("p", { id: "symbols-help", class: "muted" }, "Separate symbols with spaces, commas or new lines.");
  const problems = h("ul", { id: "symbols-problems", class: "error", "aria-live": "polite" });
  const go = h("button", { type: "submit", disabled: true }, "Start download job");
  const stockMsg = h("p", { role: "alert", class: "error" });

  function check() {
    const list = splitSymbols(ta.value);
    const bad = cfg ? symbolProblems(list, cfg) : [];
    problems.replaceChildren(...bad.map((m) => h("li", null, m)));
    ta.setAttribute("aria-invalid", bad.length ? "true" : "false");
    help.textContent = list.length ? `${list.length} symbol${list.length === 1 ? "" : "s"}` +
      (cfg?.max_symbols ? ` (at most ${cfg.max_symbols})` : "") : "Separate symbols with spaces, commas or new lines.";
    go.disabled = !list.length || bad.length > 0;
  }
  ta.addEventListener("input", check);
  config().then((c) => { cfg = c; check(); });

  const from = h("input", { id: "arm-from", type: "number", min: 0, step: 1, required: true, inputmode: "numeric", value: 1 });
  const to = h("input", { id: "arm-to", type: "number", min: 0, step: 1, required: true, inputmode: "numeric", value: 1000000 });
  const armGo = h("button", { type: "submit" }, "Start search");
  const armMsg = h("p", { role: "alert", class: "error" });

  el.append(h("h2", null, "New job"),
    h("form", { class: "card", "aria-labelledby": "stock-h", onsubmit: (e) => {
      e.preventDefault();
      check();
      if (!go.disabled) submit({ symbols: splitSymbols(ta.value) }, stockMsg, go);
    } },
      h("h3", { id: "stock-h" }, "Download stock history"),
      h("label", { for: "symbols" }, "Symbols"), ta, help, problems, go, stockMsg),
    h("form", { class: "card", "aria-labelledby": "arm-h", onsubmit: (e) => {
      e.preventDefault();
      const a = Number(from.value), b = Number(to.value);
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) {
        armMsg.textContent = "From and to must be whole numbers.";
        return;
      }
      submit({ type: "armstrong", from: a, to: b }, armMsg, armGo);
    } },
      h("h3", { id: "arm-h" }, "Search Armstrong numbers"),
      h("div", { class: "row" }, h("label", null, "From ", from), h("label", null, "To (not included) ", to)),
      armGo, armMsg));
  check();
}
