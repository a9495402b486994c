// The live status page (format=html): one self-contained page, no external
// assets, that polls the JSON answer of the same location every second.
#pragma once

namespace upstream_latency {

inline constexpr char kStatusPage[] = R"page(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nginx upstream latency</title>
<style>
:root { --fg: #1f2328; --mute: #656d76; --line: #d8dee4; --up: #1a7f37;
        --down: #8c959f; --unavail: #cf222e; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--fg); margin: 0 auto; padding: 14px 24px; max-width: 1400px; }
header { display: flex; align-items: baseline; flex-wrap: wrap; gap: 6px 18px;
         border-bottom: 1px solid var(--line); padding-bottom: 8px; }
h1 { font-size: 20px; margin: 0; }
#meta, #status, .note { color: var(--mute); }
#status { margin-left: auto; }
#error { color: var(--unavail); margin: 8px 0 0; font-weight: 600; }
#error:empty { display: none; }
section { margin: 16px 0 24px; }
h2 { font-size: 17px; margin: 0 0 6px; }
h2 small { font-weight: normal; color: var(--mute); margin-left: 8px; font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line);
         text-align: right; white-space: nowrap; }
th { font-size: 12px; color: var(--mute); font-weight: 600; }
th:first-child, td:first-child, td.state { text-align: left; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
       margin-right: 7px; vertical-align: -1px; }
.sub { color: var(--mute); font-size: 12px; margin-left: 6px; }
.tag { font-size: 11px; border: 1px solid var(--line); border-radius: 3px;
       padding: 0 4px; margin-left: 6px; color: var(--mute); }
.state { font-weight: 600; }
.up { color: var(--up); } .down { color: var(--down); } .unavail { color: var(--unavail); }
.bar { display: inline-block; height: 8px; border-radius: 2px; margin-right: 6px;
       vertical-align: 0; background: #8fb3d9; }
.bad { color: var(--unavail); font-weight: 600; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; margin-top: 12px; }
.charts h3 { font-size: 12px; color: var(--mute); margin: 0 0 2px; font-weight: 600; }
svg { width: 100%; height: auto; display: block; }
svg text { font-size: 10px; fill: var(--mute); }
</style>
</head>
<body>
<header>
  <h1>nginx upstream latency</h1>
  <span id="meta"></span>
  <span id="status"><span id="updates">0</span> updates, last updated
    <span id="updated">never</span></span>
</header>
<div id="error"></div>
<main id="upstreams"><p class="note">loading&hellip;</p></main>
<script>
"use strict";
(function () {
  const POLL_MS = 1000;   // one poll a second
  const KEEP = 300;       // points kept per peer and chart: five minutes
  const WINDOW = 5;       // shares are computed over the last 5 polls
  const SPAN_MS = KEEP * POLL_MS;
  const COLORS = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1",
                  "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"];

  const query = new URLSearchParams(location.search);
  query.set("format", "json");          // keeps upstream= if there is one
  const url = location.pathname + "?" + query;

  // upstream name -> { polls: [{t, reqs: Map}], peers: Map(key -> series) }
  const seen = new Map();
  let updates = 0;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const num = (v) => v == null ? "&ndash;" : Number(v).toLocaleString("en-US");
  const ms = (v) => v == null ? "&ndash;"
    : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
  const pct = (v) => v == null ? "&ndash;" : v.toFixed(v < 10 ? 1 : 0) + "%";
  const peerKey = (p) => p.id + " " + p.name;

  function ago(iso, now) {
    if (!iso) return "&ndash;";
    const s = ((now ? Date.parse(now) : Date.now()) - Date.parse(iso)) / 1000;
    if (!(s >= 0)) return "now";
    return s < 60 ? s.toFixed(1) + " s ago"
      : s < 3600 ? Math.round(s / 60) + " min ago" : Math.round(s / 3600) + " h ago";
  }

  // Records this poll's header times and request shares for one upstream.
  function record(u, t) {
    let h = seen.get(u.key);
    if (!h) seen.set(u.key, h = { polls: [], peers: new Map() });
    const reqs = new Map(u.peers.map((p) => [peerKey(p), p.requests]));
    h.polls.push({ t, reqs });
    if (h.polls.length > WINDOW + 1) h.polls.shift();
    const base = h.polls.length > 1 ? h.polls[0].reqs : null;

    const deltas = u.peers.map((p) => {
      const before = base && base.get(peerKey(p));
      // no earlier count, or counters went back (a reset): no share yet
      return before == null || p.requests < before ? null : p.requests - before;
    });
    const total = deltas.reduce((a, d) => a + (d || 0), 0);

    u.peers.forEach((p, i) => {
      const key = peerKey(p);
      let s = h.peers.get(key);
      if (!s) h.peers.set(key, s = { color: COLORS[h.peers.size % COLORS.length],
                                     header: [], share: [] });
      p.color = s.color;
      p.share = total > 0 && deltas[i] != null ? 100 * deltas[i] / total : null;
      s.header.push([t, p.header_time]);
      s.share.push([t, p.share]);
      if (s.header.length > KEEP) { s.header.shift(); s.share.shift(); }
      p.series = s;
    });
  }

  function niceMax(v) {
    if (!(v > 0)) return 1;
    const e = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
    return 10 * e;
  }

  // A line chart of the last SPAN_MS: lines = [{color, pts: [[t, v|null]]}].
  function chart(lines, now, fixedMax, unit) {
    const W = 560, H = 180, L = 42, R = 10, T = 8, B = 20;
    const from = now - SPAN_MS;
    let max = fixedMax;
    if (max == null) {
      let m = 0;
      for (const l of lines) for (const [t, v] of l.pts) if (t >= from && v > m) m = v;
      max = niceMax(m);
    }
    const x = (t) => (L + (t - from) / SPAN_MS * (W - L - R)).toFixed(1);
    const y = (v) => (T + (1 - Math.min(v, max) / max) * (H - T - B)).toFixed(1);
    let out = `<svg viewBox="0 0 ${W} ${H}" role="img">`;
    for (let i = 0; i <= 4; i++) {
      const v = max * i / 4, yy = y(v);
      out += `<line x1="${L}" x2="${W - R}" y1="${yy}" y2="${yy}" stroke="#e6e9ec"/>` +
             `<text x="${L - 5}" y="${+yy + 3}" text-anchor="end">${+v.toFixed(2)}${unit}</text>`;
    }
    for (let m = 0; m <= SPAN_MS / 60000; m++) {
      const label = m === 0 ? "now" : "-" + m + " min";
      out += `<text x="${x(now - m * 60000)}" y="${H - 5}" text-anchor="middle">${label}</text>`;
    }
    for (const l of lines) {
      let seg = [], last = null;
      const flush = () => {
        if (seg.length > 1) out += `<polyline fill="none" stroke="${l.color}" ` +
          `stroke-width="1.6" stroke-linejoin="round" points="${seg.join(" ")}"/>`;
        seg = [];
      };
      for (const [t, v] of l.pts) {
        if (t < from) continue;
        if (v == null) { flush(); continue; }
        seg.push(x(t) + "," + y(v));
        last = [t, v];
      }
      flush();
      if (last) out += `<circle cx="${x(last[0])}" cy="${y(last[1])}" r="2.5" fill="${l.color}"/>`;
    }
    return out + "</svg>";
  }

  function peerRow(p, u, now) {
    const server = `<span class="dot" style="background:${p.color || "#ccc"}"></span>` +
      esc(p.server) + (p.name !== p.server ? `<span class="sub">${esc(p.name)}</span>` : "");
    const weight = esc(p.weight) + (p.backup ? '<span class="tag">backup</span>' : "");
    const state = `<td class="state ${esc(p.state)}">${esc(p.state)}</td>`;
    if (!u.observed) {
      return `<tr data-server="${esc(p.server)}"><td>${server}</td>${state}` +
             `<td>${weight}</td>` + "<td>&ndash;</td>".repeat(9) + "</tr>";
    }
    const r5 = p.responses ? p.responses["5xx"] : null;
    const bar = p.share == null ? "" :
      `<span class="bar" style="width:${(p.share * 0.6).toFixed(1)}px"></span>`;
    return `<tr data-server="${esc(p.server)}"><td>${server}</td>${state}` +
      `<td>${weight}</td><td>${num(p.active)}</td>` +
      `<td class="requests">${num(p.requests)}</td>` +
      `<td class="share">${bar}${pct(p.share)}</td>` +
      `<td>${ms(p.header_time)}</td><td>${ms(p.response_time)}</td>` +
      `<td${r5 ? ' class="bad"' : ""}>${num(r5)}</td>` +
      `<td${p.fails ? ' class="bad"' : ""}>${num(p.fails)}</td>` +
      `<td>${num(p.unavail)}</td><td>${ago(p.selected, now)}</td></tr>`;
  }

  // Column names: an http upstream's, or a stream upstream's.
  const HTTP_LABELS = { requests: "requests", header: "header", response: "response" };
  const STREAM_LABELS = { requests: "connections", header: "first byte",
                          response: "last byte" };

  function upstreamSection(u, data, t) {
    const l = u.stream ? STREAM_LABELS : HTTP_LABELS;
    const head = `<h2>${esc(u.name)}<small>${u.stream ? "stream &middot; " : ""}` +
      `${esc(u.method)}</small></h2>`;
    const rows = u.peers.map((p) => peerRow(p, u, data.timestamp)).join("");
    const table = "<table><thead><tr><th>server</th><th>state</th><th>weight</th>" +
      `<th>active</th><th>${l.requests}</th><th title="of this upstream's ` +
      `${l.requests} over the last ${WINDOW} polls">share</th><th>${l.header} ms</th>` +
      `<th>${l.response} ms</th><th>5xx</th><th>fails</th><th>unavail</th>` +
      `<th>selected</th></tr></thead><tbody>${rows}</tbody></table>`;
    const attr = `${u.stream ? "data-stream-upstream" : "data-upstream"}="${esc(u.name)}"`;
    if (!u.observed) {
      return `<section ${attr}>${head}${table}<p class="note">` +
        "Balanced by another method: the module does not time these servers.</p></section>";
    }
    const lines = (k) => u.peers.map((p) => ({ color: p.color, pts: p.series[k] }));
    return `<section ${attr}>${head}${table}<div class="charts">` +
      `<div><h3>${l.header} time, ms (last ${KEEP / 60} min)</h3>` +
      chart(lines("header"), t, null, "") + "</div>" +
      `<div><h3>share of ${l.requests}, % (over ${WINDOW} polls)</h3>` +
      chart(lines("share"), t, 100, "%") + "</div></div></section>";
  }

  function render(data, t) {
    const tb = data.table;
    $("meta").innerHTML = `nginx ${esc(data.nginx_version)} &middot; module ` +
      esc(data.module_version) + (tb ? ` &middot; zone ${esc(tb.zone)}: ` +
      `${num(tb.used)} of ${num(tb.slots)} slots used` : "") +
      (data.stream ? ` &middot; zone ${esc(data.stream.table.zone)}: ` +
      `${num(data.stream.table.used)} of ${num(data.stream.table.slots)} slots used` : "");
    // stream peers in the shape of http ones: connections as requests,
    // the first byte's time as the header's
    const streams = ((data.stream || {}).upstreams || []).map((u) => ({
      ...u, stream: true, key: "stream " + u.name,
      peers: u.peers.map((p) => ({ ...p, requests: p.connections,
                                   header_time: p.first_byte_time })) }));
    const list = (data.upstreams || []).map((u) => ({ ...u, key: u.name }))
      .concat(streams);
    list.forEach((u) => { if (u.observed) record(u, t); });
    $("upstreams").innerHTML = list.length
      ? list.map((u) => upstreamSection(u, data, t)).join("")
      : '<p class="note">No upstream to show.</p>';
    $("updates").textContent = ++updates;
    $("updated").textContent = new Date(t).toTimeString().slice(0, 8);
  }

  async function poll() {
    const started = Date.now();
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 5000);
    try {
      const res = await fetch(url, { cache: "no-store", signal: abort.signal });
      if (!res.ok) throw new Error("HTTP " + res.status);
      const data = await res.json();
      render(data, Date.now());
      $("error").textContent = "";
    } catch (e) {
      $("error").textContent = `Update failed at ${new Date().toTimeString().slice(0, 8)}: ` +
        `${e.name === "AbortError" ? "timed out" : e.message}; still trying.`;
    } finally {
      clearTimeout(timer);
      setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
    }
  }

  poll();
})();
</script>
</body>
</html>
)page";

}  // namespace upstream_latency
