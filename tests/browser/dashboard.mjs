// dashboard.mjs - drives the dashboard in headless Chromium (playwright-core)
// for tests/e2e/t_dashboard.py, which starts the servers and reads our
// results: one JSON line per check on stdout, {"check", "ok", "diag"}, and
// {"diag"} for figures. To kill and restart the server we print
// {"cmd": "kill" | "start"} and wait for a line on stdin.
//
//   node dashboard.mjs URL NODE_MODULES CHROMIUM SHOTDIR SCALE
import { createRequire } from "node:module";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { createInterface } from "node:readline";

const [url, modules, chromiumPath, shotDir, scaleArg] = process.argv.slice(2);
const SCALE = Number(scaleArg) || 1;
const require = createRequire(join(modules, "noop.js"));
const { chromium } = require("playwright-core");
const AXE = readFileSync(join(modules, "axe-core", "axe.min.js"), "utf8");
const VIEWS = ["jobs", "job", "new", "archives", "camera", "server"];
const T = (s) => s * 1000 * SCALE;

const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const check = (name, ok, diag) => out({ check: name, ok: !!ok, diag: ok ? undefined : String(diag ?? "") });
const diag = (msg) => out({ diag: String(msg) });

const lines = createInterface({ input: process.stdin });
const pending = [];
lines.on("line", (l) => pending.shift()?.(l));
function ask(cmd) {
  return new Promise((resolve) => { pending.push(resolve); out({ cmd }); });
}

// Runs one check; an exception (a deadline passed) makes it fail.
async function step(name, fn) {
  try {
    const r = await fn();
    if (r === undefined || r === true) check(name, true);
    else check(name, false, r);
  } catch (e) {
    check(name, false, e.message.split("\n").slice(0, 6).join("\n"));
  }
}

const problems = { console: [], requests: [] };
let downWindow = null;          // [start, end] ms while the server is down
const expected = [];            // [method, path re, status] deliberately provoked
const allowed = [];             // [url, status] of those seen: Chrome logs them
function watchPage(page) {
  const stamp = () => Date.now();
  page.on("console", (m) => {
    if (m.type() === "error") problems.console.push({ t: stamp(), text: m.text(), where: m.location()?.url });
  });
  page.on("pageerror", (e) => problems.console.push({ t: stamp(), text: "uncaught: " + e.message }));
  page.on("requestfailed", (r) => {
    const f = r.failure()?.errorText || "";
    // The camera view drops its stream on purpose when it is left; a
    // download ends its request from the browser's side, and so does a
    // reload or a closed page for the event stream.
    if (/\/stream\.mjpg$|\/api\/events/.test(r.url()) && /ABORTED/.test(f)) return;
    if (/\/archives\//.test(r.url()) && /ABORTED/.test(f)) return;
    problems.requests.push({ t: stamp(), what: `${r.method()} ${r.url()}: ${f}` });
  });
  page.on("response", (r) => {
    if (r.status() < 400) return;
    const req = r.request(), path = new URL(r.url()).pathname;
    const i = expected.findIndex(([m, re, st]) => m === req.method() && re.test(path) && st === r.status());
    if (i >= 0) { allowed.push([r.url(), r.status()]); expected.splice(i, 1); return; }
    problems.requests.push({ t: stamp(), what: `${req.method()} ${r.url()}: HTTP ${r.status()}` });
  });
}
const outsideDown = (x) => !downWindow || x.t < downWindow[0] || x.t > (downWindow[1] ?? Infinity);

async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((h) => location.hash === h, hash);
}

// Waits until a view shows what it is for.
async function ready(page, view) {
  const sel = { jobs: "tbody tr[data-id]", job: "tbody tr[data-symbol]", new: "#symbols", archives: "tbody tr a",
    camera: "#stream", server: ".chart polyline" }[view];
  await page.locator("main " + sel).first().waitFor({ state: "attached", timeout: T(20) });
  if (view === "camera") {
    await page.waitForFunction(() => document.querySelector("#stream")?.naturalWidth > 0, null, { timeout: T(20) });
  }
}

async function axe(page) {
  if (!(await page.evaluate(() => !!window.axe))) await page.addScriptTag({ content: AXE });
  const r = await page.evaluate(async () => {
    const res = await window.axe.run(document, { resultTypes: ["violations"] });
    return res.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; ")})`);
  });
  return r.length ? r.join("\n") : true;
}

const tgzOk = (buf) => {
  const tar = gunzipSync(buf);
  return tar.length >= 512 && tar.subarray(257, 262).toString("latin1") === "ustar";
};

async function main() {
  mkdirSync(shotDir, { recursive: true });
  // No traffic of the browser's own: this machine's network is closed.
  const args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"];
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args, timeout: T(60) });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  ctx.setDefaultTimeout(T(20));
  const page = await ctx.newPage();
  watchPage(page);
  const badge = page.locator("#conn");
  let stockId = null, slowId = null;

  await step("the page loads and the connection badge turns live", async () => {
    await page.goto(url + "#/jobs", { waitUntil: "load" });
    await page.evaluate(() => { window.__marker = "no reload"; });
    await page.waitForFunction(() => document.querySelector("#conn")?.dataset.state === "live", null, { timeout: T(20) });
  });

  await step("first contentful paint under 1000 ms", async () => {
    const p = await ctx.newPage();
    await p.goto(url + "#/jobs", { waitUntil: "load" });
    const fcp = await p.evaluate(async () => {
      for (let i = 0; i < 50; i++) {
        const e = performance.getEntriesByName("first-contentful-paint")[0];
        if (e) return e.startTime;
        await new Promise((r) => setTimeout(r, 100));
      }
      return null;
    });
    await p.close();
    diag(`first contentful paint: ${fcp == null ? "none" : fcp.toFixed(0) + " ms"}`);
    return fcp != null && fcp < 1000 * SCALE ? true : `FCP ${fcp} ms`;
  });

  await step("the symbols form flags a bad symbol, a duplicate, too many, and names each", async () => {
    await page.click("nav >> text=New job");
    await page.fill("#symbols", "AAPL, A/B\n-X AAPL");
    const items = page.locator("#symbols-problems li");
    await page.waitForFunction(() => document.querySelectorAll("#symbols-problems li").length >= 3);
    const text = (await items.allTextContents()).join(" | ");
    const disabled = await page.locator("form button[type=submit]").first().isDisabled();
    // Over the server's --max-symbols 60, from GET /api/config.
    await page.fill("#symbols", Array.from({ length: 61 }, (_, i) => `M${i}`).join(","));
    await page.locator("#symbols-problems li", { hasText: "at most 60" }).waitFor();
    await page.fill("#symbols", "");
    return /A\/B/.test(text) && /“-X”/.test(text) && /AAPL.*2 times/.test(text) && disabled ? true : `problems: ${text}; submit disabled: ${disabled}`;
  });

  await step("submit 50 symbols through the form: the job's detail opens at once", async () => {
    // Five slow ones keep the job running for a while: the bar moves.
    const syms = Array.from({ length: 44 }, (_, i) => `SYM${String(i).padStart(2, "0")}`);
    syms.splice(7, 0, "e404-XYZ");
    syms.push(...Array.from({ length: 5 }, (_, i) => `slow-2000-S${i}`));
    await page.fill("#symbols", syms.join(" "));
    await page.locator("#symbols-help", { hasText: "50 symbols" }).waitFor();
    await page.click("text=Start download job");
    await page.waitForFunction(() => /^#\/jobs\/\d+$/.test(location.hash));
    stockId = Number((await page.evaluate(() => location.hash)).split("/")[2]);
    await page.locator("main h2", { hasText: `Job ${stockId}` }).waitFor();
    await page.locator("main [role=progressbar]").first().waitFor();
    await page.evaluate(() => {
      window.__seen = new Set();
      const note = () => {
        const b = document.querySelector("main .progress [role=progressbar]");
        if (b) window.__seen.add(Number(b.getAttribute("aria-valuenow")));
      };
      note();
      new MutationObserver(note).observe(document.querySelector("main"), { childList: true, subtree: true });
    });
  });

  await step("the 50-symbol job's progress bar reaches 100% with no reload", async () => {
    await page.locator(`main .progress [role=progressbar][aria-valuenow="100"]`).waitFor({ timeout: T(90) });
    const m = await page.evaluate(() => window.__marker);
    const seen = await page.evaluate(() => [...window.__seen].sort((a, b) => a - b));
    await page.locator("main tbody tr").nth(49).waitFor();
    const rows = await page.locator("main tbody tr").count();
    diag(`progress bar values seen: ${seen.join(" ")}`);
    return m === "no reload" && rows === 50 && seen[0] < 100 ? true : `marker=${m} symbol rows=${rows} bar values ${seen}`;
  });

  await step("the symbol the upstream 404s shows its error, failed first", async () => {
    const first = page.locator("main tbody tr").first();
    await page.locator('main tbody tr[data-symbol="e404-XYZ"] .error').waitFor();
    const sym = await first.getAttribute("data-symbol");
    const text = await page.locator('main tbody tr[data-symbol="e404-XYZ"]').innerText();
    return sym === "e404-XYZ" && /404/.test(text) ? true : `first row ${sym}; row text: ${text}`;
  });

  await step("the detail's symbol filter narrows the table", async () => {
    await page.selectOption("#sym-state", "failed");
    await page.waitForFunction(() => document.querySelectorAll("main tbody tr").length === 1);
    await page.selectOption("#sym-state", "");
    await page.fill("#sym-q", "SYM1");
    await page.waitForFunction(() => document.querySelectorAll("main tbody tr").length === 10);
    await page.fill("#sym-q", "");
  });

  await step("an XML link of the detail serves the converted file", async () => {
    const href = await page.locator('main tbody tr[data-symbol="SYM00"] a', { hasText: "XML" }).getAttribute("href");
    const r = await page.request.get(url.replace(/\/$/, "") + href);
    const body = await r.text();
    return r.ok() && body.includes("<Data>") ? true : `${href}: ${r.status()} ${body.slice(0, 200)}`;
  });

  await step("the server's problem detail is shown when it refuses a job", async () => {
    await page.click("nav >> text=New job");
    await page.fill("#arm-from", "500");
    await page.fill("#arm-to", "100");
    expected.push(["POST", /^\/api\/jobs$/, 400]);
    await page.click("text=Start search");
    const alert = page.locator("main form[aria-labelledby=arm-h] [role=alert]");
    await alert.filter({ hasText: /\S/ }).waitFor();
    const text = await alert.innerText();
    return /to:/.test(text) ? true : `alert: ${text}`;
  });

  await step("an Armstrong search shows its range, progress and results", async () => {
    await page.fill("#arm-from", "1");
    await page.fill("#arm-to", "100000");
    await page.click("text=Start search");
    await page.waitForFunction(() => /^#\/jobs\/\d+$/.test(location.hash));
    await page.locator(`main .progress [role=progressbar][aria-valuenow="100"]`).waitFor({ timeout: T(60) });
    await page.locator("main dd", { hasText: "92727" }).waitFor();
    const text = await page.locator("main dl").innerText();
    return /1 – 100000/.test(text) && /153, 370, 371, 407/.test(text) ? true : text;
  });

  await step("cancel a running job from the page", async () => {
    await page.click("nav >> text=New job");
    await page.fill("#symbols", Array.from({ length: 6 }, (_, i) => `slow-30000-C${i}`).join(" "));
    await page.click("text=Start download job");
    await page.waitForFunction(() => /^#\/jobs\/\d+$/.test(location.hash));
    slowId = Number((await page.evaluate(() => location.hash)).split("/")[2]);
    await page.locator("main dd .state", { hasText: "running" }).waitFor();
    await page.click("text=Cancel job");
    await page.locator("main dd .state", { hasText: "canceled" }).waitFor({ timeout: T(30) });
  });

  await step("the jobs list shows every job newest first, with states", async () => {
    await page.click("nav >> text=Jobs");
    await page.locator(`main tbody tr[data-id="${slowId}"] .state`, { hasText: "canceled" }).waitFor();
    const ids = (await page.locator("main tbody tr").evaluateAll((rs) => rs.map((r) => Number(r.dataset.id))));
    const sorted = ids.every((v, i) => i === 0 || ids[i - 1] > v);
    return ids.length >= 3 && sorted && ids.includes(stockId) ? true : `ids ${ids}`;
  });

  await step("searching by symbol finds only that job (GET /api/jobs?q=)", async () => {
    await page.fill("#job-q", "e404-xyz");
    await page.waitForFunction((id) => {
      const rs = [...document.querySelectorAll("main tbody tr")];
      return rs.length === 1 && rs[0].dataset.id === String(id);
    }, stockId, { timeout: T(10) });
    await page.fill("#job-q", "");
    await page.waitForFunction(() => document.querySelectorAll("main tbody tr").length >= 3);
  });

  await step("the state filter shows only jobs in that state", async () => {
    await page.selectOption("#job-state", "canceled");
    await page.waitForFunction((id) => {
      const rs = [...document.querySelectorAll("main tbody tr")];
      return rs.length === 1 && rs[0].dataset.id === String(id);
    }, slowId, { timeout: T(10) });
    await page.selectOption("#job-state", "");
  });

  await step("download an archive from the Archives view: a readable .tgz", async () => {
    await page.click("nav >> text=Archives");
    const link = page.locator("main tbody tr a").first();
    await link.waitFor({ timeout: T(30) });
    const [dl] = await Promise.all([page.waitForEvent("download"), link.click()]);
    const file = join(shotDir, "archive-download.tgz");
    await dl.saveAs(file);
    const buf = readFileSync(file);
    return tgzOk(buf) ? true : `${dl.suggestedFilename()}: ${buf.length} bytes, not a gzipped ustar archive`;
  });

  await step("the camera image changes over two seconds", async () => {
    await page.click("nav >> text=Camera");
    await ready(page, "camera");
    const img = page.locator("#stream");
    const a = await img.screenshot();
    await page.waitForTimeout(2000);
    const b = await img.screenshot();
    return !a.equals(b) ? true : "two screenshots 2 s apart are the same";
  });

  await step("the camera figures show state, fps, viewers, encode time, drops", async () => {
    await page.locator("main dd", { hasText: "wanted" }).waitFor();
    const text = await page.locator("main dl").innerText();
    return /State\s+live/.test(text) && /Viewers\s+[1-9]/.test(text) && /Encode time/.test(text) && /Frames dropped/.test(text) ? true : text;
  });

  await step("the snapshot button shows a snapshot", async () => {
    await page.click("text=Take snapshot");
    await page.waitForFunction(() => document.querySelector("#snapshot")?.naturalWidth > 0);
  });

  await step("leaving the camera view ends its stream (viewers back to 0)", async () => {
    await page.click("nav >> text=Server");
    const deadline = Date.now() + T(15);
    let c;
    while (Date.now() < deadline) {
      c = await (await page.request.get(url + "api/camera")).json();
      if (c.viewers === 0) return true;
      await page.waitForTimeout(200);
    }
    return `viewers=${c?.viewers}`;
  });

  await step("the server view shows health, pools and live charts from stats events", async () => {
    await ready(page, "server");
    await page.waitForFunction(() => [...document.querySelectorAll(".chart polyline")].some((p) => p.getAttribute("points").split(" ").length >= 3), null, { timeout: T(20) });
    const text = await page.locator("main").innerText();
    return /Health\s+ok/.test(text) && /fetch/.test(text) && /convert/.test(text) && /cpu/.test(text) ? true : text.slice(0, 400);
  });

  await step("the back button returns to the previous view", async () => {
    await page.goBack();
    await page.waitForFunction(() => location.hash === "#/camera");
    await page.locator("main h2", { hasText: "Camera" }).waitFor();
    await page.goBack();
    await page.waitForFunction(() => location.hash === "#/archives");
    await page.locator("main h2", { hasText: "Archives" }).waitFor();
  });

  await step("keyboard: Tab reaches the navigation, with a visible focus outline", async () => {
    await page.evaluate(() => document.activeElement?.blur());
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      if (await page.evaluate(() => !!document.activeElement?.closest("nav"))) break;
    }
    const r = await page.evaluate(() => {
      const a = document.activeElement, s = getComputedStyle(a);
      return { nav: !!a.closest("nav"), outline: s.outlineStyle, width: parseFloat(s.outlineWidth) };
    });
    await page.keyboard.press("Enter");
    const hash = await page.evaluate(() => location.hash);
    return r.nav && r.outline !== "none" && r.width > 0 && hash === "#/jobs" ? true : JSON.stringify({ ...r, hash });
  });

  // Every view at desktop width: a screenshot and an axe scan.
  for (const v of VIEWS) {
    await step(`axe: no serious or critical violations on the ${v} view`, async () => {
      await go(page, v === "job" ? `#/jobs/${stockId}` : `#/${v}`);
      await ready(page, v);
      await page.screenshot({ path: join(shotDir, `${v}-desktop.png`), fullPage: true });
      return axe(page);
    });
  }
  await step("dark mode: no serious or critical axe violations on any view", async () => {
    await page.emulateMedia({ colorScheme: "dark" });
    const bad = [];
    for (const v of VIEWS) {
      await go(page, v === "job" ? `#/jobs/${stockId}` : `#/${v}`);
      await ready(page, v);
      if (v === "jobs" || v === "job") await page.screenshot({ path: join(shotDir, `${v}-dark-desktop.png`), fullPage: true });
      const r = await axe(page);
      if (r !== true) bad.push(`${v}: ${r}`);
    }
    await page.emulateMedia({ colorScheme: "light" });
    return bad.length ? bad.join("\n") : true;
  });
  await go(page, "#/jobs");

  // Phone width: no sideways scroll, and a screenshot.
  const phone = await browser.newContext({ viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true });
  phone.setDefaultTimeout(T(20));
  const pp = await phone.newPage();
  watchPage(pp);
  for (const v of VIEWS) {
    await step(`phone width 375 px: no horizontal scroll on the ${v} view`, async () => {
      await pp.goto(url + (v === "job" ? `#/jobs/${stockId}` : `#/${v}`), { waitUntil: "load" });
      await ready(pp, v);
      await pp.screenshot({ path: join(shotDir, `${v}-phone.png`), fullPage: true });
      const r = await pp.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: innerWidth }));
      return r.sw <= r.w ? true : `scrollWidth ${r.sw} > innerWidth ${r.w}`;
    });
  }
  await phone.close();

  await step("server killed: the badge shows reconnecting", async () => {
    downWindow = [Date.now()];
    await ask("kill");
    await page.waitForFunction(() => document.querySelector("#conn")?.dataset.state === "reconnecting", null, { timeout: T(20) });
    await page.screenshot({ path: join(shotDir, "reconnecting-desktop.png") });
  });

  let otherId = null, listsAfter = 0;
  await step("server restarted on the same port: the badge is live again by itself", async () => {
    await ask("start");
    const restarted = Date.now();
    page.on("request", (r) => {
      if (Date.now() >= restarted && /\/api\/jobs\?/.test(r.url())) listsAfter++;
    });
    // Another client's job, likely before the page is back: the page
    // learns of it from the reset's reload (or the event, if later).
    const r = await page.request.post(url + "api/jobs", { data: { symbols: ["AFTER1"] } });
    otherId = (await r.json()).id;
    await badge.and(page.locator('[data-state="live"]')).waitFor({ timeout: T(30) });
    downWindow[1] = Date.now() + 500;
  });

  await step("after the restart the finished job is still listed", async () => {
    await page.locator(`main tbody tr[data-id="${stockId}"] .state`, { hasText: "failed" }).waitFor({ timeout: T(20) });
    const m = await page.evaluate(() => window.__marker);
    return m === "no reload" ? true : `marker=${m}`;
  });

  await step("after the restart a job another client submitted is listed (reset reloads the lists)", async () => {
    await page.locator(`main tbody tr[data-id="${otherId}"]`).waitFor({ timeout: T(20) });
    return listsAfter > 0 ? true : "no GET /api/jobs after the restart";
  });

  await step("with over 100 jobs the list shows the newest 100, then older ones on request", async () => {
    for (let i = 0; i < 100; i++) {
      const r = await page.request.post(url + "api/jobs", { data: { type: "armstrong", from: 0, to: 10 } });
      if (r.status() !== 202) return `POST ${i}: ${r.status()} ${await r.text()}`;
    }
    await page.reload({ waitUntil: "load" });
    await page.waitForFunction(() => document.querySelectorAll("main tbody tr").length === 100, null, { timeout: T(20) });
    const hasOld = await page.locator(`main tbody tr[data-id="${stockId}"]`).count();
    await page.click("text=Show older jobs");
    await page.locator(`main tbody tr[data-id="${stockId}"]`).waitFor();
    return hasOld === 0 ? true : "the oldest job was shown before asking";
  });

  await page.waitForTimeout(1000);
  const provoked = (x) => allowed.some(([u, st]) => u === x.where && x.text.includes(`status of ${st}`));
  const cons = problems.console.filter((x) => outsideDown(x) && !provoked(x));
  check("no console errors (outside the server-down window)", cons.length === 0,
    cons.slice(0, 10).map((x) => `${x.text} ${x.where || ""}`).join("\n"));
  const reqs = problems.requests.filter(outsideDown);
  check("no failed requests (outside the server-down window)", reqs.length === 0,
    reqs.slice(0, 10).map((x) => x.what).join("\n"));
  diag(`while the server was down: ${problems.console.length - cons.length} console errors, ${problems.requests.length - reqs.length} failed requests (expected)`);
  await browser.close();
}

main().then(() => process.exit(0), (e) => {
  out({ diag: "dashboard.mjs crashed: " + (e.stack || e) });
  process.exit(1);
});
