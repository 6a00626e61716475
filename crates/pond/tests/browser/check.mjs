// Drives headless Chromium through pond's web app and reports what a user would see, as
// one JSON object on standard output; the Rust test (tests/it/serve.rs) asserts on it.
//
//   node check.mjs SERVER_URL STATIC_URL SERIES OTHER_SERIES SCREENSHOT_DIR
//
// SERVER_URL is a running `pond serve`; STATIC_URL serves a `pond site` of the same pond.
import { chromium } from "playwright-core";

const [server, site, series, other, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.POND_CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const facts = {};
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(String(e)));
  const requests = [];
  page.on("request", (r) => { if (r.url().includes("/api/chart/")) requests.push(r.url()); });

  // The tree.
  await page.goto(server + "/p/");
  facts.tree = await page.$$eval("table.entries tbody td:first-child a", (as) => as.map((a) => a.textContent));
  await page.screenshot({ path: shots + "/tree.png", fullPage: true });

  // A series: its chart at the default viewport.
  const chartDone = (n) => page.waitForFunction(
    (n) => Number(document.querySelector("div.chart")?.dataset.loads || 0) >= n, n, { timeout: 20000 });
  await page.goto(server + "/p" + series);
  await chartDone(1);
  const chart = () => page.$eval("div.chart", (d) => ({
    points: Number(d.dataset.points), resolution: d.dataset.resolution,
    canvas: !!d.querySelector("canvas"),
  }));
  facts.chart = await chart();
  facts.preview_rows = await page.$$eval("table.rows tbody tr", (rows) => rows.length);
  await page.screenshot({ path: shots + "/series.png", fullPage: true });

  // Zoom: drag across a tenth of the plot.
  const over = await page.$("div.chart .u-over");
  const box = await over.boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.45, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.50, y, { steps: 5 });
  await page.mouse.move(box.x + box.width * 0.55, y, { steps: 5 });
  await page.mouse.up();
  await chartDone(2);
  facts.zoomed = await chart();
  facts.chart_requests = requests.length;
  facts.zoom_request = requests[requests.length - 1] || "";
  await page.screenshot({ path: shots + "/zoomed.png", fullPage: true });

  // Several series on one chart.
  await page.goto(server + "/chart?path=" + encodeURIComponent(series) + "&path=" + encodeURIComponent(other));
  await chartDone(1);
  facts.multi = await page.$eval("div.chart", (d) => ({
    points: Number(d.dataset.points), resolution: d.dataset.resolution,
    legend: Array.from(d.querySelectorAll(".u-legend .u-label")).map((l) => l.textContent),
  }));
  await page.screenshot({ path: shots + "/multi.png", fullPage: true });

  // The console.
  const sql = `SELECT count(*) AS n FROM "${series}"`;
  await page.goto(server + "/sql?sql=" + encodeURIComponent(sql));
  await page.waitForSelector("p.status[data-rows]", { timeout: 20000 });
  facts.console = await page.$$eval("div.result td", (tds) => tds.map((t) => t.textContent));
  await page.screenshot({ path: shots + "/console.png", fullPage: true });
  await page.fill("textarea", "SELECT nope FROM \"/no/such.series\"");
  await page.click("form.console button[type=submit]");
  await page.waitForSelector("p.status.error", { timeout: 20000 });
  facts.console_error = await page.textContent("p.status");

  // A bad path.
  const response = await page.goto(server + "/p/no/such.series");
  facts.bad_status = response.status();
  facts.bad_text = await page.textContent("p.error");
  await page.screenshot({ path: shots + "/error.png", fullPage: true });

  // The static site: the same series page draws from the files beside it.
  await page.goto(site + "/p" + series + ".html");
  await chartDone(1);
  facts.static_chart = await chart();
  await page.screenshot({ path: shots + "/static.png", fullPage: true });
  facts.page_errors = problems;
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(facts) + "\n");
