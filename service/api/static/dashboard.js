/* fraudlog dashboard.
 *
 * Loads the charts' last hour from /v1/stats/series (bucketed from the stored predictions, events and alerts,
 * so a reload or a page opened after a run draws the same curves), then polls /v1/stats, /v1/models and
 * /v1/alerts and appends to them: the API reads the database on every request, so the page shows the same
 * figures whichever API process answers. Every figure on the page carries `data-stat` (and its raw number in
 * `data-value`), so tests and scrapers need not parse formatted text.
 */
(function () {
  "use strict";

  const params = new URLSearchParams(window.location.search);
  const REFRESH_MS = clamp(Number(params.get("refresh")) || 2000, 250, 60000);
  const HISTORY_SECONDS = 3600;
  const KEY_STORAGE = "fraudlog.apiKey";
  const ALERT_ROWS = 10;
  const HISTORY_STEP = "10s";

  const C = {
    blue: "#5b9cff", green: "#34d399", amber: "#fbbf24", red: "#f87171", violet: "#a78bfa",
    cyan: "#22d3ee", pink: "#f472b6", muted: "#8b97b3", grid: "rgba(139, 151, 179, 0.12)",
  };
  const VERSION_COLORS = ["#a78bfa", "#5b9cff", "#34d399", "#fbbf24", "#f472b6", "#22d3ee", "#fb923c", "#a3e635"];

  // ---- formatting ----------------------------------------------------------------------------------

  function clamp(value, low, high) { return Math.min(high, Math.max(low, value)); }
  function isNum(value) { return typeof value === "number" && Number.isFinite(value); }

  const intFormat = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
  function fmtInt(value) { return isNum(value) ? intFormat.format(value) : "—"; }

  function fmtRate(value) {
    if (!isNum(value)) return "—";
    if (Math.abs(value) >= 100) return intFormat.format(value);
    if (Math.abs(value) >= 10) return value.toFixed(1);
    return value.toFixed(2);
  }

  function fmtCompact(value) {
    if (!isNum(value)) return "";
    const abs = Math.abs(value);
    if (abs >= 1e6) return (value / 1e6).toFixed(abs >= 1e7 ? 0 : 1) + "M";
    if (abs >= 1e4) return (value / 1e3).toFixed(0) + "k";
    if (abs >= 1e3) return (value / 1e3).toFixed(1) + "k";
    if (abs >= 10 || value === 0) return value.toFixed(0);
    return String(Number(value.toPrecision(2)));
  }

  // Seconds to the unit a person would say: 850 µs, 12 ms, 1.4 s, 3.2 min, 5.1 h, 27 d.
  function fmtDuration(seconds) {
    if (!isNum(seconds)) return "—";
    if (seconds === 0) return "0";
    const sign = seconds < 0 ? "−" : "";
    const s = Math.abs(seconds);
    const units = [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"], [1e-3, "ms"], [1e-6, "µs"]];
    for (const [size, name] of units) {
      if (s >= size || size === 1e-6) {
        const v = s / size;
        const text = v >= 100 || v === 0 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
        return sign + text.replace(/\.0+$/, "").replace(/(\.\d*?)0+$/, "$1") + " " + name;
      }
    }
    return "—";
  }

  // Tick steps for duration axes, so they read 50 ms, 2 min, 6 h, 7 d rather than 23.1 d.
  const DURATION_STEPS = [];
  for (const scale of [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1]) for (const m of [1, 2, 5]) DURATION_STEPS.push(m * scale);
  DURATION_STEPS.push(10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 432000, 604800, 1209600, 2592000, 7776000, 15552000, 31536000);

  const COUNT_STEPS = [];
  for (let scale = 1; scale <= 1e9; scale *= 10) for (const m of [1, 2, 5]) COUNT_STEPS.push(m * scale);

  function fmtPercent(ratio, digits) {
    return isNum(ratio) ? (ratio * 100).toFixed(digits === undefined ? 1 : digits) + " %" : "—";
  }
  function fmtAuc(value) { return isNum(value) ? value.toFixed(3) : "—"; }
  function fmtNumber(value) { return isNum(value) ? Number(value.toPrecision(4)).toString() : "—"; }

  function fmtClock(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? "—" : date.toLocaleTimeString([], { hour12: false });
  }

  function fmtAgo(iso) {
    const seconds = (Date.now() - Date.parse(iso)) / 1000;
    if (!isNum(seconds)) return "—";
    if (seconds < 60) return "just now";
    return fmtDuration(seconds).replace(/\.\d+/, "") + " ago";
  }

  function withAlpha(hex, alpha) {
    const n = parseInt(hex.slice(1), 16);
    return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
  }

  function versionColor(version) { return VERSION_COLORS[(Number(version) - 1 + VERSION_COLORS.length * 100) % VERSION_COLORS.length]; }

  // ---- DOM helpers ---------------------------------------------------------------------------------

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name === "style") Object.assign(node.style, value);
      else node.setAttribute(name, value);
    }
    for (const child of [].concat(children || [])) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  // The other panels' scripts (loaded after this one) build their elements with the same helper.
  window.fraudlog = Object.assign(window.fraudlog || {}, { el });

  function setStat(name, value, text) {
    for (const node of document.querySelectorAll(`[data-stat="${name}"]`)) {
      node.dataset.value = isNum(value) ? String(value) : "";
      node.textContent = text;
    }
  }

  // ---- fetching ------------------------------------------------------------------------------------

  class AuthRequired extends Error {}

  async function getJson(path) {
    const headers = { Accept: "application/json" };
    const key = window.sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = "Bearer " + key;
    const response = await fetch(path, { headers, cache: "no-store" });
    if (response.status === 401 || response.status === 403) throw new AuthRequired(`${path}: ${response.status}`);
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return response.json();
  }

  // ---- the time series -----------------------------------------------------------------------------

  const points = [];          // one per successful /v1/stats poll, oldest first
  let previous = null;        // the last stats snapshot, for rates between polls
  let windowSeconds = 0;      // 0: everything kept

  function record(stats, receivedAt) {
    const serverTime = Date.parse(stats.generated_at) / 1000;
    if (previous && stats.events < previous.events) points.length = 0;  // a different (new) database
    let ingest = null;
    let scoring = null;
    if (previous && stats.events >= previous.events) {
      const serverSpan = serverTime - previous.serverTime;
      const span = serverSpan > 0 ? serverSpan : receivedAt - previous.receivedAt;
      if (span > 0) {
        ingest = (stats.events - previous.events) / span;
        scoring = Math.max(0, stats.scored - previous.scored) / span;
      }
    }
    previous = { events: stats.events, scored: stats.scored, serverTime, receivedAt };
    const latency = stats.latency_seconds || {};
    const e2p = latency.event_to_prediction || {};
    const r2p = latency.recorded_to_prediction || {};
    const alerts = stats.alerts || {};
    const auc = {};
    for (const [version, model] of Object.entries(stats.models || {})) auc[version] = model.roc_auc;
    const last = points[points.length - 1];
    const t = last && receivedAt <= last.t ? last.t + 0.001 : receivedAt;
    points.push({
      t, ingest, scoring,
      ingest1m: stats.throughput_per_second.ingest, scoring1m: stats.throughput_per_second.scoring,
      e2p50: e2p.p50, e2p99: e2p.p99, r2p50: r2p.p50, r2p99: r2p.p99,
      backlog: stats.backlog.count, backlogAge: stats.backlog.oldest_age_seconds || 0,
      pending: alerts.pending || 0, sent: alerts.sent || 0, failed: alerts.failed || 0, auc,
    });
    while (points.length && points[0].t < t - HISTORY_SECONDS) points.shift();
  }

  // ---- charts --------------------------------------------------------------------------------------

  const CHARTS = [
    { id: "throughput", format: fmtRate, axis: fmtCompact, series: [
      { label: "ingested /s", color: C.blue, value: (p) => p.ingest, fill: true },
      { label: "scored /s", color: C.green, value: (p) => p.scoring },
      { label: "ingested, 1-min avg", color: C.blue, value: (p) => p.ingest1m, dash: [5, 5], width: 1.5 },
      { label: "scored, 1-min avg", color: C.green, value: (p) => p.scoring1m, dash: [5, 5], width: 1.5 },
    ] },
    { id: "latency", format: fmtDuration, axis: fmtDuration, series: [
      { label: "p50", color: C.cyan, value: (p) => p.e2p50, fill: true },
      { label: "p99", color: C.pink, value: (p) => p.e2p99 },
    ] },
    { id: "platform-latency", format: fmtDuration, axis: fmtDuration, series: [
      { label: "p50", color: C.cyan, value: (p) => p.r2p50, fill: true },
      { label: "p99", color: C.pink, value: (p) => p.r2p99 },
    ] },
    { id: "backlog", format: fmtInt, axis: fmtCompact, series: [
      { label: "unscored", color: C.amber, value: (p) => p.backlog, fill: true },
      { label: "oldest waiting", color: C.red, value: (p) => p.backlogAge, scale: "age", format: fmtDuration },
    ], right: { scale: "age", format: fmtDuration } },
    { id: "alerts", format: fmtInt, axis: fmtCompact, series: [
      { label: "sent", color: C.green, value: (p) => p.sent, fill: true },
      { label: "pending", color: C.amber, value: (p) => p.pending },
      { label: "failed", color: C.red, value: (p) => p.failed },
    ] },
    { id: "auc", format: fmtAuc, axis: (v) => v.toFixed(2), series: [], range: aucRange },
  ];

  const charts = new Map();   // id -> { plot, spec, key }
  const drawn = new Set();

  function zeroBasedRange(u, min, max) {
    if (!isNum(min) || !isNum(max)) return [0, 1];
    const low = Math.min(0, min);
    const high = max > low ? max + (max - low) * 0.08 : low + 1;
    return [low, high];
  }

  function aucRange(u, min, max) {
    if (!isNum(min) || !isNum(max)) return [0.4, 1];
    return [Math.max(0, Math.min(0.5, Math.floor((min - 0.02) * 20) / 20)), 1];
  }

  function aucSeries() {
    const versions = new Set();
    for (const p of points) for (const v of Object.keys(p.auc)) versions.add(v);
    return [...versions].sort((a, b) => Number(a) - Number(b)).map((v) => ({
      label: "v" + v, color: versionColor(v), value: (p) => (p.auc[v] === undefined ? null : p.auc[v]),
    }));
  }

  function chartWidth(container) { return Math.max(240, container.clientWidth); }

  function buildChart(spec) {
    const container = document.getElementById("chart-" + spec.id);
    const existing = charts.get(spec.id);
    if (existing) existing.plot.destroy();
    const axisStyle = { stroke: C.muted, grid: { stroke: C.grid, width: 1 }, ticks: { stroke: C.grid, width: 1 },
      font: "11px system-ui, sans-serif" };
    const axes = [
      { ...axisStyle, space: 80, values: timeTicks },
      { ...axisStyle, size: 62, values: (u, splits) => splits.map((v) => (isNum(v) ? spec.axis(v) : "")) },
    ];
    if (spec.axis === fmtDuration) axes[1].incrs = DURATION_STEPS;
    if (spec.format === fmtInt) axes[1].incrs = COUNT_STEPS;
    const scales = { x: { time: true, range: xRange }, y: { range: spec.range || zeroBasedRange } };
    if (spec.right) {
      scales[spec.right.scale] = { range: zeroBasedRange };
      axes.push({ ...axisStyle, scale: spec.right.scale, side: 1, size: 62, grid: { show: false },
        incrs: spec.right.format === fmtDuration ? DURATION_STEPS : undefined,
        values: (u, splits) => splits.map((v) => (isNum(v) ? spec.right.format(v) : "")) });
    }
    const series = [{ label: "at", value: (u, v) => (isNum(v) ? new Date(v * 1000).toLocaleTimeString([], { hour12: false }) : "—") }];
    for (const s of spec.series) {
      const format = s.format || spec.format;
      series.push({
        label: s.label, stroke: s.color, width: s.width || 2, dash: s.dash, scale: s.scale || "y",
        fill: s.fill ? withAlpha(s.color, 0.12) : undefined, points: { show: false }, spanGaps: false,
        value: (u, v) => (isNum(v) ? format(v) : "—"),
      });
    }
    const plot = new window.uPlot({
      width: chartWidth(container), height: 200, series, axes, scales,
      legend: { live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      hooks: { draw: [() => {
        container.dataset.points = String(points.length);
        if (points.length >= 2) drawn.add(spec.id);
        markReady();  // uPlot may draw after renderCharts returns: the last chart drawn decides
      }] },
    }, chartData(spec), container);
    charts.set(spec.id, { plot, spec, key: spec.series.map((s) => s.label).join("|") });
    return plot;
  }

  function xRange(u, min, max) {
    if (!isNum(min) || !isNum(max)) {
      const now = Date.now() / 1000;
      return [now - 60, now];
    }
    if (windowSeconds > 0) return [max - windowSeconds, max];
    return max > min ? [min, max] : [max - 30, max];
  }

  function timeTicks(u, splits) {
    const span = u.scales.x.max - u.scales.x.min;
    const options = span > 600 ? { hour: "2-digit", minute: "2-digit", hour12: false }
      : { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    return splits.map((v) => new Date(v * 1000).toLocaleTimeString([], options));
  }

  function chartData(spec) {
    const data = [points.map((p) => p.t)];
    for (const s of spec.series) data.push(points.map((p) => { const v = s.value(p); return isNum(v) ? v : null; }));
    return data;
  }

  function renderCharts() {
    for (const spec of CHARTS) {
      if (spec.id === "auc") spec.series = aucSeries();
      const chart = charts.get(spec.id);
      const key = spec.series.map((s) => s.label).join("|");
      if (!chart || chart.key !== key) {
        buildChart(spec);
        continue;
      }
      chart.plot.setData(chartData(spec));
      showLatestInLegend(chart.plot);
    }
    markReady();
  }

  function markReady() {
    if (points.length >= 2 && CHARTS.every((spec) => drawn.has(spec.id))) document.body.dataset.ready = "true";
  }

  // While the pointer is elsewhere, the legend shows the newest values rather than dashes.
  function showLatestInLegend(plot) {
    if (plot.cursor.left === undefined || plot.cursor.left < 0) plot.setLegend({ idx: plot.data[0].length - 1 });
  }

  function resizeCharts() {
    for (const { plot } of charts.values()) {
      const container = plot.root.parentElement;
      const width = chartWidth(container);
      if (Math.abs(plot.width - width) > 1) plot.setSize({ width, height: 200 });
    }
  }

  // ---- figures and tables --------------------------------------------------------------------------

  function renderStats(stats) {
    const alerts = stats.alerts || {};
    const backlog = stats.backlog || {};
    const e2p = stats.latency_seconds.event_to_prediction;
    const r2p = stats.latency_seconds.recorded_to_prediction;
    const alertsTotal = (alerts.pending || 0) + (alerts.sent || 0) + (alerts.failed || 0);
    const scorable = stats.events - (backlog.unassigned || 0);
    setStat("events", stats.events, fmtInt(stats.events));
    setStat("labels", stats.labels, fmtInt(stats.labels));
    setStat("scored", stats.scored, fmtInt(stats.scored));
    setStat("scored-share", scorable > 0 ? stats.scored / scorable : null,
      scorable > 0 ? fmtPercent(stats.scored / scorable) : "—");
    setStat("backlog", backlog.count, fmtInt(backlog.count));
    setStat("backlog-age", backlog.oldest_age_seconds, backlog.count ? fmtDuration(backlog.oldest_age_seconds) : "none");
    setStat("scoring-failures", backlog.failed || 0, fmtInt(backlog.failed || 0));
    setStat("ingest-rate", stats.throughput_per_second.ingest, fmtRate(stats.throughput_per_second.ingest));
    setStat("scoring-rate", stats.throughput_per_second.scoring, fmtRate(stats.throughput_per_second.scoring));
    setStat("latency-p50", e2p.p50, fmtDuration(e2p.p50));
    setStat("latency-p99", e2p.p99, fmtDuration(e2p.p99));
    setStat("platform-latency-p99", r2p.p99, fmtDuration(r2p.p99));
    setStat("alerts-total", alertsTotal, fmtInt(alertsTotal));
    for (const status of ["pending", "sent", "failed"]) setStat("alerts-" + status, alerts[status] || 0, fmtInt(alerts[status] || 0));
    const age = backlog.oldest_age_seconds || 0;
    document.getElementById("kpi-backlog").dataset.level = backlog.failed ? "bad" : !backlog.count ? "ok" : age > 60 ? "bad" : age > 10 ? "warn" : "ok";
    document.getElementById("kpi-alerts").dataset.level = alerts.failed ? "bad" : "ok";
  }

  function specSummary(spec) {
    if (!spec) return "—";
    const params = Object.entries(spec.params || {}).map(([k, v]) => `${k}=${v}`).join(", ");
    return el("span", {}, [el("span", { text: spec.name || "?" }), params ? el("span", { class: "spec-params", text: params }) : null]);
  }

  function aucCell(value) {
    if (!isNum(value)) return el("td", { class: "num", text: "—" });
    const width = clamp((value - 0.5) / 0.5, 0, 1) * 100;
    return el("td", { class: "num" }, el("span", { class: "meter" }, [
      el("span", { class: "meter-bar" }, el("span", { style: { width: width.toFixed(0) + "%" } })),
      el("span", { text: fmtAuc(value) }),
    ]));
  }

  function renderModels(models, stats) {
    const body = document.querySelector("#models tbody");
    const rows = [...models].sort((a, b) => b.version - a.version).map((m) => {
      const live = (stats && stats.models && stats.models[String(m.version)]) || m.live_metrics || {};
      const training = (m.metrics || {}).prequential_roc_auc;
      return el("tr", { "data-version": String(m.version), "data-status": m.status }, [
        el("td", {}, el("span", { class: "version" }, [
          el("span", { class: "swatch", style: { background: versionColor(m.version) } }), "v" + m.version])),
        el("td", { "data-field": "status" }, el("span", { class: "badge " + m.status, text: m.status })),
        el("td", { text: m.parent_version === null || m.parent_version === undefined ? "—" : "v" + m.parent_version }),
        el("td", { title: m.traits || "" }, [specSummary(m.model_spec), m.traits ? el("div", { class: "spec-params", "data-field": "traits", text: m.traits }) : null]),
        el("td", { class: "num", text: fmtNumber(m.threshold) }),
        aucCell(live.roc_auc),
        el("td", { class: "num", text: fmtAuc(training) }),
        el("td", { class: "num", "data-field": "labels", text: fmtInt(live.labels || 0) }),
        el("td", { class: "num", text: fmtInt(live.frauds || 0) }),
        el("td", { class: "num", "data-field": "predictions", text: fmtInt(live.predictions || 0) }),
        el("td", { class: "num", text: fmtPercent(live.alert_rate, 2) }),
        el("td", { title: m.created_at, text: fmtAgo(m.created_at) }),
      ]);
    });
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: "12", text: "no model version yet: train one with `fraudlog train`" }))]));
  }

  function renderAlerts(page) {
    const body = document.querySelector("#alerts tbody");
    const rows = (page.items || []).map((a) => el("tr", { "data-alert": a.alert_id, "data-update-of": a.update_of }, [
      el("td", { title: a.created_at, text: fmtClock(a.created_at) }),
      el("td", { class: "mono", text: a.transaction_id }),
      el("td", { class: "mono", text: a.card_id || "—" }, a.type === "fraud_alert.updated"
        ? el("span", { class: "chip", title: "an update of alert " + a.update_of, text: "update" }) : null),
      el("td", { class: "num score-hot", title: a.transactions ? a.transactions + " transactions covered" : "",
                 text: fmtNumber(a.score) }),
      el("td", { class: "num", text: fmtNumber(a.threshold) }),
      el("td", {}, el("span", { class: "version" }, [
        el("span", { class: "swatch", style: { background: versionColor(a.model_version) } }), "v" + a.model_version])),
      el("td", {}, el("span", { class: "badge " + a.status, text: a.status })),
      el("td", { class: "num", text: fmtInt(a.attempts) }),
      el("td", { class: "error", title: a.last_error || "", text: a.last_error || "" }),
    ]));
    body.replaceChildren(...(rows.length ? rows : [el("tr", { class: "empty" }, el("td", { colspan: "9", text: "no alerts yet" }))]));
  }

  // ---- status and the poll loop --------------------------------------------------------------------

  let lastSuccess = 0;
  let polls = 0;

  function setStatus(state, text) {
    const status = document.getElementById("status");
    status.dataset.state = state;
    document.getElementById("status-text").textContent = text;
  }

  function showAuth(show) { document.getElementById("auth").hidden = !show; }

  async function refresh() {
    const [stats, models, alerts] = await Promise.allSettled([
      getJson("/v1/stats"), getJson("/v1/models"), getJson(`/v1/alerts?limit=${ALERT_ROWS}`),
    ]);
    const failures = [stats, models, alerts].filter((r) => r.status === "rejected").map((r) => r.reason);
    showAuth(failures.some((e) => e instanceof AuthRequired));
    if (stats.status === "fulfilled") {
      record(stats.value, Date.now() / 1000);
      renderStats(stats.value);
      renderCharts();
      lastSuccess = Date.now();
    }
    if (models.status === "fulfilled") renderModels(models.value, stats.status === "fulfilled" ? stats.value : null);
    if (alerts.status === "fulfilled") renderAlerts(alerts.value);
    polls += 1;
    document.body.dataset.polls = String(polls);
    if (failures.length) {
      const stale = lastSuccess ? ` (last good ${fmtClock(new Date(lastSuccess).toISOString())})` : "";
      setStatus("error", String(failures[0].message || failures[0]) + stale);
    } else {
      setStatus("live", `live · updated ${new Date().toLocaleTimeString([], { hour12: false })}`);
    }
  }

  async function loadHistory() {
    let series;
    try {
      series = await getJson(`/v1/stats/series?range=1h&step=${HISTORY_STEP}`);
    } catch (error) {
      return;  // the live polls still draw what follows
    }
    // Leading buckets before any activity would squeeze a short run against the right edge: start at the first.
    const all = series.points || [];
    const first = all.findIndex((p) => p.ingested_per_second > 0 || p.scored_per_second > 0);
    for (const p of first < 0 ? [] : all.slice(Math.max(0, first - 1))) {
      points.push({
        t: p.t, ingest: p.ingested_per_second, scoring: p.scored_per_second, ingest1m: null, scoring1m: null,
        e2p50: p.event_to_prediction_p50, e2p99: p.event_to_prediction_p99,
        r2p50: p.recorded_to_prediction_p50, r2p99: p.recorded_to_prediction_p99,
        backlog: null, backlogAge: null, sent: p.alerts, pending: null, failed: null, auc: {}, history: true,
      });
    }
  }

  async function loop() {
    try {
      await refresh();
    } catch (error) {
      setStatus("error", String(error && error.message ? error.message : error));
    }
    window.setTimeout(loop, REFRESH_MS);
  }

  function start() {
    document.getElementById("refresh-every").textContent = fmtDuration(REFRESH_MS / 1000);
    for (const button of document.querySelectorAll("[data-window]")) {
      button.addEventListener("click", () => {
        windowSeconds = Number(button.dataset.window);
        for (const other of document.querySelectorAll("[data-window]")) other.classList.toggle("active", other === button);
        renderCharts();
      });
    }
    document.getElementById("auth").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = document.getElementById("auth-key").value.trim();
      if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
      else window.sessionStorage.removeItem(KEY_STORAGE);
      refresh();
    });
    window.setInterval(() => {
      if (lastSuccess && Date.now() - lastSuccess > REFRESH_MS * 4 && document.getElementById("status").dataset.state === "live") {
        setStatus("stale", "no answer for " + fmtDuration((Date.now() - lastSuccess) / 1000));
      }
    }, 1000);
    if (window.ResizeObserver) new window.ResizeObserver(resizeCharts).observe(document.querySelector(".charts"));
    else window.addEventListener("resize", resizeCharts);
    for (const spec of CHARTS) buildChart(spec);
    loadHistory().then(loop);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
