// console.js - sluice's web console: polls the broker's /api/* JSON once a
// second and renders the current view. Plain DOM, no framework; charts with
// the vendored uPlot. Read-only: it only ever sends GETs.
"use strict";

const state = { view: "cluster", last: null, lastAt: 0, topic: null, series: null,
                charts: {}, prevTopics: null, prevTopicsAt: 0, tailKey: "" };

function $(sel) { return document.querySelector(sel); }

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return e;
}

async function get(path) {
  const r = await fetch(path, { cache: "no-store" });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.json();
}

function fmtSec(s) {
  if (!s) return "0";
  if (s < 1e-3) return (s * 1e6).toFixed(0) + " µs";
  if (s < 1) return (s * 1e3).toFixed(s < 1e-2 ? 2 : 1) + " ms";
  return s.toFixed(2) + " s";
}

function fmtBytes(n) {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + u[i];
}

function fmtRate(n) { return n >= 1e6 ? (n / 1e6).toFixed(2) + " M" : n >= 1e3 ? (n / 1e3).toFixed(1) + " k" : n.toFixed(0); }

function fillTable(sel, rows) {
  const body = $(sel + " tbody");
  body.replaceChildren(...rows);
}

function row(cells, attrs) {
  return el("tr", attrs || {}, ...cells.map(c => c instanceof Node ? el("td", {}, c) : el("td", {}, c)));
}

// A quantile of the counts added between two cumulative histograms.
function intervalQuantile(prev, cur, q) {
  if (!cur) return 0;
  const d = cur.counts.map((c, i) => c - (prev ? prev.counts[i] : 0));
  const total = d.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  let cum = 0;
  for (let i = 0; i < cur.le.length; i++) {
    cum += d[i];
    if (cum >= q * total) return cur.le[i];
  }
  return cur.max;
}

function renderCluster(ov) {
  $("#cluster-id").textContent = ov.cluster_id;
  $("#cluster-summary").textContent =
    `${ov.shards.length} shards, ${ov.topics} topics, ${ov.partitions} partitions, ` +
    `${ov.records_appended} records appended since start`;
  fillTable("#shards", ov.shards.map(s => row([
    s.shard, s.core < 0 ? "–" : s.core, s.port, s.partitions, s.connections, s.requests,
    fmtSec(s.turn.p50), fmtSec(s.turn.p99), fmtSec(s.turn.max),
    fmtSec(s.fsync.p50), fmtSec(s.fsync.p99), s.ring_to_shard, s.ring_to_control,
  ], { "data-shard": s.shard })));
}

async function renderTopics() {
  const t = await get("/api/topics");
  const now = Date.now(), dt = state.prevTopics ? (now - state.prevTopicsAt) / 1000 : 0;
  const prev = {};
  for (const pt of (state.prevTopics || { topics: [] }).topics)
    for (const p of pt.partitions) prev[pt.name + "/" + p.partition] = p;
  const rateOf = (name, p, f) => {
    const q = prev[name + "/" + p.partition];
    return dt > 0 && q ? Math.max(0, (p[f] - q[f]) / dt) : 0;
  };
  fillTable("#topics", t.topics.map(tp => {
    const sum = f => tp.partitions.reduce((a, p) => a + p[f], 0);
    const inRate = tp.partitions.reduce((a, p) => a + rateOf(tp.name, p, "bytes_in"), 0);
    const outRate = tp.partitions.reduce((a, p) => a + rateOf(tp.name, p, "bytes_out"), 0);
    const r = row([tp.name, tp.partition_count, sum("high_watermark"), fmtBytes(sum("size_bytes")),
                   fmtBytes(inRate) + "/s", fmtBytes(outRate) + "/s"],
                  { class: "clickable", "data-topic": tp.name });
    r.addEventListener("click", () => { state.topic = tp.name; renderTopicDetail(t); });
    return r;
  }));
  state.prevTopics = t;
  state.prevTopicsAt = now;
  if (state.topic) renderTopicDetail(t, rateOf);
  return t;
}

async function renderTopicDetail(t, rateOf) {
  const tp = t.topics.find(x => x.name === state.topic);
  if (!tp) { $("#topic-detail").hidden = true; return; }
  $("#topic-detail").hidden = false;
  $("#topic-name").textContent = tp.name + " (" + tp.id + ")";
  fillTable("#partitions", tp.partitions.map(p => row([
    p.partition, p.shard, p.log_start, p.log_end, p.high_watermark, p.segments,
    fmtBytes(p.size_bytes), p.records_in, rateOf ? fmtRate(rateOf(tp.name, p, "records_in")) : "0",
  ], { "data-partition": p.partition })));
  if ($("#configs").dataset.topic !== tp.name) {
    const c = await get("/api/topic?name=" + encodeURIComponent(tp.name));
    const sources = { 1: "topic", 4: "broker (static)", 5: "default" };
    fillTable("#configs", c.configs.map(x => row([x.name, x.value === null ? "null" : x.value,
                                                  sources[x.source] || x.source],
                                                 { "data-config": x.name })));
    $("#configs").dataset.topic = tp.name;
  }
}

async function renderGroups() {
  const g = await get("/api/groups");
  $("#groups").replaceChildren(...g.groups.map(gr => el("div", { class: "group", "data-group": gr.group },
    el("h3", {}, `${gr.group} — ${gr.state}` + (gr.protocol ? ` (${gr.protocol})` : "")),
    gr.members.length === 0 ? el("p", {}, "no members") :
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "member"), el("th", {}, "client"),
                                       el("th", {}, "host"), el("th", {}, "assignment"))),
         el("tbody", {}, ...gr.members.map(m => row([m.member_id, m.client_id, m.client_host,
           m.assignment.map(a => `${a.topic}: ${a.partitions.join(",")}`).join("; ")])))))));
  fillTable("#lag", g.lag.map(l => row([l.group, l.topic, l.partition, l.committed, l.log_end, l.lag],
    { "data-group": l.group, "data-topic": l.topic, "data-partition": l.partition })));
}

function bytesCell(b, mode) {
  if (b === null) return el("span", { class: "null" }, "null");
  if (mode === "text" && b.text !== null) return b.text;
  return b.hex.replace(/(..)/g, "$1 ").trim();
}

async function renderTail() {
  const t = state.prevTopics || await get("/api/topics");
  const sel = $("#tail-topic"), psel = $("#tail-partition");
  const names = t.topics.map(x => x.name);
  if ([...sel.options].map(o => o.value).join() !== names.join())
    sel.replaceChildren(...names.map(n => el("option", { value: n }, n)));
  const tp = t.topics.find(x => x.name === sel.value);
  if (!tp) { $("#tail-note").textContent = "no topics yet"; return; }
  const parts = tp.partitions.map(p => String(p.partition));
  if ([...psel.options].map(o => o.value).join() !== parts.join())
    psel.replaceChildren(...parts.map(p => el("option", { value: p }, p)));
  const mode = document.querySelector("input[name=tail-mode]:checked").value;
  const r = await get(`/api/tail?topic=${encodeURIComponent(sel.value)}&partition=${psel.value}&max=50`);
  $("#tail-note").textContent = `${r.topic}-${r.partition} on shard ${r.shard}: offsets ` +
    `${r.log_start}..${r.high_watermark}, showing from ${r.from}` + (r.note ? " — " + r.note : "");
  fillTable("#tail", r.records.slice().reverse().map(x => row([
    x.offset, new Date(x.timestamp).toISOString(), bytesCell(x.key, mode), bytesCell(x.value, mode),
    x.headers.map(h => `${h.key ? h.key.text : ""}=${h.value ? (mode === "text" && h.value.text !== null ? h.value.text : h.value.hex) : "null"}`).join(", "),
  ], { "data-offset": x.offset })));
  for (const tr of document.querySelectorAll("#tail tbody tr"))
    for (const td of [...tr.children].slice(2)) td.className = "text";
}

function makeChart(id, title, series, fmt) {
  if (!window.uPlot) {
    $(id).textContent = "charts unavailable: uPlot was not vendored (run scripts/setup.sh)";
    return null;
  }
  const opts = { title, width: Math.min(1000, window.innerWidth - 80), height: 260,
                 series: [{}].concat(series.map(s => ({ label: s, value: (u, v) => v === null ? "–" : fmt(v) }))),
                 axes: [{}, { values: (u, vals) => vals.map(fmt), size: 70 }] };
  return new uPlot(opts, [[], ...series.map(() => [])], $(id));
}

function chartPush(chart, data, t, values) {
  if (!chart) return;
  data[0].push(t);
  values.forEach((v, i) => data[i + 1].push(v));
  if (data[0].length > 300) data.forEach(a => a.shift());
  chart.setData(data);
}

function updateCharts(ov, prev, dt) {
  if (!state.charts.tp) {
    state.charts.tp = makeChart("#chart-throughput", "records appended/s, bytes in/s, bytes out/s",
                                ["records/s", "bytes in/s", "bytes out/s"], fmtRate);
    state.charts.lat = makeChart("#chart-latency", "p99 latency (s)",
                                 ["produce", "fetch", "fsync", "loop turn"], fmtSec);
    state.charts.tpData = [[], [], [], []];
    state.charts.latData = [[], [], [], [], []];
  }
  if (!prev || dt <= 0) return;
  const sum = (o, f) => o.shards.reduce((a, s) => a + s[f], 0);
  const t = Date.now() / 1000;
  chartPush(state.charts.tp, state.charts.tpData, t, [
    (ov.records_appended - prev.records_appended) / dt,
    (sum(ov, "bytes_in") - sum(prev, "bytes_in")) / dt,
    (sum(ov, "bytes_out") - sum(prev, "bytes_out")) / dt]);
  const q = name => {
    let best = null;
    ov.shards.forEach((s, i) => {
      const v = intervalQuantile(prev.shards[i] && prev.shards[i][name], s[name], 0.99);
      if (v !== null && (best === null || v > best)) best = v;
    });
    return best;
  };
  chartPush(state.charts.lat, state.charts.latData, t, [q("produce"), q("fetch"), q("fsync"), q("turn")]);
}

async function tick() {
  try {
    const ov = await get("/api/overview");
    const now = Date.now();
    const prev = state.last, dt = prev ? (now - state.lastAt) / 1000 : 0;
    state.last = ov;
    state.lastAt = now;
    updateCharts(ov, prev, dt);
    if (state.view === "cluster") renderCluster(ov);
    if (state.view === "topics") await renderTopics();
    else state.prevTopics = await get("/api/topics");
    if (state.view === "groups") await renderGroups();
    if (state.view === "tail") await renderTail();
    $("#status").textContent = "updated " + new Date(now).toLocaleTimeString();
    document.body.dataset.updated = String((Number(document.body.dataset.updated) || 0) + 1);
  } catch (e) {
    $("#status").textContent = "error: " + e.message;
  }
}

function show() {
  state.view = (location.hash || "#cluster").slice(1);
  for (const v of document.querySelectorAll(".view")) v.classList.toggle("active", v.id === "view-" + state.view);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.id === "nav-" + state.view);
  tick();
}

window.addEventListener("hashchange", show);
document.addEventListener("DOMContentLoaded", () => {
  $("#tail-form").addEventListener("change", () => tick());
  show();
  setInterval(tick, 1000);
});
