/* fraudlog dashboard: quality over time (docs/quality.md).
 *
 * Plots, for every live version (the champion and the challengers of /v1/models), ROC AUC (solid) and average
 * precision (dashed) per bucket of GET /v1/models/{v}/quality, against the bucket's start in event time, and
 * how complete each bucket's labels are (dotted, right axis): recent buckets stand on few labels, and say so.
 * Unlike the live charts, the history is the server's (a function of the log), so the page keeps none.
 * Drift detections (GET /v1/drift, docs/drift.md) are marked where they fall in event time: a red line for
 * one on performance (the signal that retrains), a grey dashed one for a label-free signal.
 * The chart carries `data-points` (buckets on the x axis), `data-versions`, `data-cut` and `data-detections`
 * (the detections marked) for tests.
 */
(function () {
  "use strict";

  const params = new URLSearchParams(window.location.search);
  // Slower than the live charts, and not while the tab is hidden: a report reads every prediction of its
  // buckets (docs/quality.md, Cost), and quality per bucket moves slowly.
  const REFRESH_MS = Math.max(10000, 5 * (Number(params.get("refresh")) || 2000));
  const KEY_STORAGE = "fraudlog.apiKey";
  const AUTO_BUCKETS = 30;      // about this many points in "auto", each with the same number of predictions
  const LIMIT = 500;            // newest buckets asked for
  const VERSION_COLORS = ["#a78bfa", "#5b9cff", "#34d399", "#fbbf24", "#f472b6", "#22d3ee", "#fb923c", "#a3e635"];
  const MUTED = "#8b97b3";
  const GRID = "rgba(139, 151, 179, 0.12)";

  let plot = null;
  let plotKey = "";
  let detections = [];          // [{x, signal}]: the drift detections to mark, in event-time seconds

  // RFC 3339 with microseconds, as the API spells times, to Unix seconds (Date.parse wants milliseconds).
  function seconds(text) { return Date.parse(text.replace(/(\.\d{3})\d+/, "$1")) / 1000; }
  function isNum(value) { return typeof value === "number" && Number.isFinite(value); }
  // The same colour per version as the other charts (dashboard.js).
  function versionColor(version) { return VERSION_COLORS[(Number(version) - 1 + VERSION_COLORS.length * 100) % VERSION_COLORS.length]; }

  async function getJson(path) {
    const headers = { Accept: "application/json" };
    const key = window.sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.Authorization = "Bearer " + key;
    const response = await fetch(path, { headers, cache: "no-store" });
    if (!response.ok) throw new Error(`${path} answered ${response.status}`);
    return response.json();
  }

  // A round count (1, 2 or 5 times a power of ten) that cuts `predictions` into about AUTO_BUCKETS buckets.
  function autoEvery(predictions) {
    const target = Math.max(50, predictions / AUTO_BUCKETS);
    const scale = Math.pow(10, Math.floor(Math.log10(target)));
    return [1, 2, 5, 10].map((m) => m * scale).find((step) => step >= target);
  }

  function cutFor(choice, champion) {
    if (choice !== "auto") return "bucket=" + encodeURIComponent(choice);
    const predictions = champion && champion.live_metrics ? champion.live_metrics.predictions : 0;
    return "every=" + autoEvery(predictions || 0);
  }

  // One x value per bucket start of any version; a version without a bucket there is `undefined` (uPlot
  // joins its line across it), a figure that is null stays null (a gap: nothing to judge there yet).
  function chartData(reports) {
    const xs = [...new Set(reports.flatMap((r) => r.buckets.map((b) => seconds(b.start))))]
      .sort((a, b) => a - b);
    const data = [xs];
    for (const report of reports) {
      const byStart = new Map(report.buckets.map((b) => [seconds(b.start), b]));
      for (const figure of ["roc_auc", "average_precision", "labelled_share"]) {
        data.push(xs.map((x) => (byStart.has(x) ? byStart.get(x)[figure] : undefined)));
      }
    }
    return data;
  }

  function series(reports) {
    const out = [{ label: "bucket", value: (u, v) => (isNum(v) ? new Date(v * 1000).toISOString().slice(0, 16).replace("T", " ") : "—") }];
    for (const report of reports) {
      const color = versionColor(report.version);
      const common = { stroke: color, points: { show: true, size: 5 }, spanGaps: false };
      out.push({ ...common, label: `v${report.version} AUC`, width: 2, scale: "y",
        value: (u, v) => (isNum(v) ? v.toFixed(3) : "—") });
      out.push({ ...common, label: `v${report.version} AP`, width: 1.5, dash: [6, 4], scale: "y",
        value: (u, v) => (isNum(v) ? v.toFixed(3) : "—") });
      out.push({ ...common, label: `v${report.version} labelled`, width: 1, dash: [2, 3], scale: "share",
        points: { show: false }, fill: color.replace(/^#(..)(..)(..)$/, (m, r, g, b) =>
          `rgba(${parseInt(r, 16)}, ${parseInt(g, 16)}, ${parseInt(b, 16)}, 0.06)`),
        value: (u, v) => (isNum(v) ? (v * 100).toFixed(0) + " %" : "—") });
    }
    return out;
  }

  function build(container, reports, data) {
    if (plot) plot.destroy();
    const axis = { stroke: MUTED, grid: { stroke: GRID, width: 1 }, ticks: { stroke: GRID, width: 1 },
      font: "11px system-ui, sans-serif" };
    plot = new window.uPlot({
      width: Math.max(320, container.clientWidth), height: 260, series: series(reports),
      scales: { x: { time: true }, y: { range: [0, 1] }, share: { range: [0, 1] } },
      axes: [
        { ...axis, space: 90 },
        { ...axis, size: 50, values: (u, splits) => splits.map((v) => v.toFixed(1)) },
        { ...axis, scale: "share", side: 1, size: 56, grid: { show: false },
          values: (u, splits) => splits.map((v) => (v * 100).toFixed(0) + " %") },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      hooks: { draw: [markDetections] },
    }, data, container);
  }

  // A vertical line per detection inside the plotted range, drawn over the series.
  function markDetections(u) {
    const [min, max] = [u.scales.x.min, u.scales.x.max];
    const shown = detections.filter((d) => isNum(min) && d.x >= min && d.x <= max);
    const ctx = u.ctx;
    ctx.save();
    for (const d of shown) {
      const x = Math.round(u.valToPos(d.x, "x", true));
      ctx.strokeStyle = d.signal === "performance" ? "#f87171" : MUTED;
      ctx.lineWidth = d.signal === "performance" ? 2 : 1;
      ctx.setLineDash(d.signal === "performance" ? [] : [4, 4]);
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
    }
    ctx.restore();
    u.root.parentElement.dataset.detections = String(shown.length);
  }

  async function readDetections() {
    try {
      const page = await getJson("/v1/drift?limit=200");
      return page.items.filter((d) => d.event_time).map((d) => ({ x: seconds(d.event_time), signal: d.signal }));
    } catch (error) {
      return [];  // a key without the analyst role still sees the quality lines
    }
  }

  async function refresh() {
    const container = document.getElementById("chart-quality");
    const note = document.getElementById("quality-note");
    const models = await getJson("/v1/models");
    const live = models.filter((m) => m.status !== "retired").sort((a, b) => a.version - b.version);
    const champion = live.find((m) => m.status === "champion");
    const cut = cutFor(document.getElementById("quality-bucket").value, champion);
    const reports = await Promise.all(live.map((m) => getJson(`/v1/models/${m.version}/quality?${cut}&limit=${LIMIT}`)));
    detections = await readDetections();
    const data = chartData(reports);
    const key = cut + "|" + reports.map((r) => r.version).join(",");
    if (!plot || key !== plotKey) build(container, reports, data);
    else plot.setData(data);
    // While the pointer is elsewhere, the legend shows the newest bucket rather than dashes.
    if (data[0].length && (plot.cursor.left === undefined || plot.cursor.left < 0)) plot.setLegend({ idx: data[0].length - 1 });
    plotKey = key;
    container.dataset.points = String(data[0].length);
    container.dataset.versions = reports.map((r) => r.version).join(",");
    container.dataset.cut = cut;
    note.textContent = reports.length
      ? `${cut.replace("=", " ")}; log as of position ${reports[0].as_of.position}, newest label ${reports[0].as_of.labeled_at || "—"}`
      : "no live version yet";
  }

  async function loop() {
    try {
      if (!document.hidden || !plot) await refresh();
    } catch (error) {
      document.getElementById("quality-note").textContent = String(error && error.message ? error.message : error);
    }
    window.setTimeout(loop, REFRESH_MS);
  }

  function start() {
    document.getElementById("quality-bucket").addEventListener("change", () => { plotKey = ""; refresh().catch(() => {}); });
    if (window.ResizeObserver) {
      new window.ResizeObserver(() => {
        const container = document.getElementById("chart-quality");
        if (plot && Math.abs(plot.width - container.clientWidth) > 1) plot.setSize({ width: Math.max(320, container.clientWidth), height: 260 });
      }).observe(document.getElementById("chart-quality"));
    }
    loop();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
