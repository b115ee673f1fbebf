// console_check.js - drives sluice's web console in headless Chromium
// (Debian's /usr/bin/chromium through playwright-core) for test_console.py.
//
//   node console_check.js BASE_URL OUT_DIR TOPIC
//
// Visits every view, records console errors, failed requests and HTTP
// errors, reads the numbers each view shows, and writes a screenshot per
// view into OUT_DIR. The live tail step is a conversation on stdio: it
// prints "tail-ready", reads one line (a value the test then produces) and
// waits for that value to show up in the tail. The last stdout line is
// "result <JSON>". Every wait is bounded.
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");
const readline = require("readline");

const [base, outDir, topic] = process.argv.slice(2);
const WAIT = 20000;
const lines = readline.createInterface({ input: process.stdin });
const pending = [];
lines.on("line", l => { const w = pending.shift(); if (w) w(l); });
const nextLine = () => new Promise(res => pending.push(res));

async function waitTicks(page, n) {
  const start = Number(await page.evaluate(() => document.body.dataset.updated || 0));
  await page.waitForFunction(s => Number(document.body.dataset.updated || 0) >= s,
                             start + n, { timeout: WAIT });
}

const rows = (page, sel) => page.$$eval(sel + " tbody tr",
  trs => trs.map(tr => [...tr.children].map(td => td.textContent)));

async function main() {
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium", headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors = [];
  page.on("console", m => { if (m.type() === "error") errors.push("console: " + m.text()); });
  page.on("pageerror", e => errors.push("page: " + e.message));
  page.on("requestfailed", r => errors.push("request failed: " + r.url() + " " + r.failure().errorText));
  page.on("response", r => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  const out = { errors, views: {} };
  const shot = async name => {
    const file = path.join(outDir, `console-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    out.views[name] = Object.assign(out.views[name] || {}, { screenshot: file });
  };

  await page.goto(base + "/#cluster", { waitUntil: "load" });
  await waitTicks(page, 2);
  out.views.cluster = { shards: await rows(page, "#shards"),
                        cluster_id: await page.textContent("#cluster-id") };
  await shot("cluster");

  await page.goto(base + "/#topics");
  await waitTicks(page, 2);
  await page.click(`#topics tr[data-topic="${topic}"]`);
  await page.waitForSelector("#configs tbody tr", { timeout: WAIT });
  await waitTicks(page, 2);
  out.views.topics = { topics: await rows(page, "#topics"), partitions: await rows(page, "#partitions"),
                       configs: await rows(page, "#configs") };
  await shot("topics");

  await page.goto(base + "/#groups");
  await waitTicks(page, 2);
  out.views.groups = {
    lag: await rows(page, "#lag"),
    groups: await page.$$eval("#groups .group", gs => gs.map(g => ({
      group: g.dataset.group, title: g.querySelector("h3").textContent,
      members: [...g.querySelectorAll("tbody tr")].map(tr => [...tr.children].map(td => td.textContent)) }))),
  };
  await shot("groups");

  await page.goto(base + "/#tail");
  await waitTicks(page, 2);
  await page.selectOption("#tail-topic", topic);
  await page.selectOption("#tail-partition", "0");
  await waitTicks(page, 1);
  console.log("tail-ready");
  const want = (await nextLine()).trim();
  await page.waitForFunction(v => [...document.querySelectorAll("#tail tbody td")]
    .some(td => td.textContent === v), want, { timeout: WAIT });
  const tailRows = await rows(page, "#tail");
  await shot("tail");
  await page.check("input[name=tail-mode][value=hex]");
  const hex = Buffer.from(want).toString("hex").replace(/(..)/g, "$1 ").trim();
  await page.waitForFunction(v => [...document.querySelectorAll("#tail tbody td")]
    .some(td => td.textContent === v), hex, { timeout: WAIT });
  Object.assign(out.views.tail, { rows: tailRows, hex_seen: hex,
                                  note: await page.textContent("#tail-note") });
  await shot("tail-hex");

  await page.goto(base + "/#charts");
  await waitTicks(page, 4);
  out.views.charts = {
    canvases: await page.$$eval(".chart canvas", cs => cs.length),
    text: await page.textContent("#view-charts"),
  };
  await shot("charts");
  await browser.close();
  console.log("result " + JSON.stringify(out));
  process.exit(0);
}

const timer = setTimeout(() => { console.log("result " + JSON.stringify({ fatal: "timed out" })); process.exit(2); }, 150000);
main().catch(e => { console.log("result " + JSON.stringify({ fatal: String(e && e.stack || e) })); process.exit(1); })
  .finally(() => clearTimeout(timer));
