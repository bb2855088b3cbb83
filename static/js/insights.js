// A flow's endpoint-health charts (flowsadmin/_insights.html), drawn with the vendored uPlot from the
// JSON the page carries (json_script). Meta's alert thresholds are dashed lines. Runs on page load and
// again when htmx swaps the Insights in; a chart already drawn is left alone.
(() => {
  if (window.flowInsightsCharts) return; // loaded again with a swapped-in tab: the first copy listens
  window.flowInsightsCharts = true;
  const INK = "#1b1f23", MUTED = "#5b636b", ACCENT = "#0b7a5a", DANGER = "#b42318", WARN = "#9a6700";
  const HEIGHT = 200;

  // Dashed horizontal lines with a label at the right, on the given scale.
  function thresholdLines(lines) {
    return {
      hooks: {
        draw: (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          ctx.setLineDash([6, 4]);
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
          ctx.textAlign = "right";
          // Labels stagger leftwards: 5 s and 7 s lie close on a log scale.
          lines.forEach(({ value, scale, label, color }, i) => {
            const y = u.valToPos(value, scale, true);
            if (y < bbox.top || y > bbox.top + bbox.height) return;
            ctx.strokeStyle = color;
            ctx.fillStyle = color;
            ctx.beginPath();
            ctx.moveTo(bbox.left, y);
            ctx.lineTo(bbox.left + bbox.width, y);
            ctx.stroke();
            const x = bbox.left + bbox.width - 4 - i * ctx.measureText(label).width * 1.15;
            ctx.fillText(label, Math.max(x, bbox.left + ctx.measureText(label).width), y - 4 * devicePixelRatio);
          });
          ctx.restore();
        },
      },
    };
  }

  const levels = [WARN, DANGER, DANGER];
  // Sparse data (one busy minute in an hour) must still show: points always on, lines where they join.
  const dots = (color) => ({ show: true, size: 5, fill: color, stroke: color });
  // Half a step either side, so the first and last bars are drawn whole.
  const xRange = (series) => {
    const t = series.t, step = t.length > 1 ? t[1] - t[0] : 60;
    return [t[0] - step / 2, t[t.length - 1] + step / 2];
  };

  function trafficChart(series, thresholds, width, hourly) {
    const rates = series.error_rate;
    const maxRate = Math.max(10, ...rates.filter((r) => r !== null));
    return [
      {
        width, height: HEIGHT,
        legend: { live: true },
        scales: { x: { time: true, range: () => xRange(series) }, n: { range: (u, lo, hi) => [0, Math.max(hi, 4)] }, pct: { range: [0, Math.min(100, maxRate * 1.15)] } },
        axes: [
          { stroke: MUTED, space: hourly ? 70 : 50 },
          { scale: "n", stroke: MUTED, label: "requests", size: 50 },
          { scale: "pct", side: 1, stroke: DANGER, label: "error %", grid: { show: false }, size: 45 },
        ],
        series: [
          {},
          { label: "Requests", scale: "n", stroke: ACCENT, fill: "rgba(11,122,90,0.25)", paths: uPlot.paths.bars({ size: [0.7, 40] }), points: { show: false } },
          { label: "Error rate %", scale: "pct", stroke: DANGER, width: 2, points: dots(DANGER) },
        ],
        plugins: [thresholdLines(thresholds.error_rate.map((v, i) => ({ value: v, scale: "pct", label: `${v} %`, color: levels[i] })))],
      },
      [series.t, series.requests, rates],
    ];
  }

  function latencyChart(series, thresholds, width, beyond, hourly) {
    const ms = (v) => (v === null ? "—" : v >= beyond ? "> 10 s" : v >= 1000 ? `≤ ${v / 1000} s` : `≤ ${v} ms`);
    return [
      {
        width, height: HEIGHT,
        scales: { x: { time: true, range: () => xRange(series) }, ms: { distr: 3, log: 10, range: [1, beyond] } },
        axes: [
          { stroke: MUTED, space: hourly ? 70 : 50 },
          {
            scale: "ms", stroke: MUTED, label: "latency", size: 55,
            // Label and grid only the powers of ten: the minor log ticks crowd a small chart.
            splits: () => [1, 10, 100, 1000, 10000],
            values: (u, vals) => vals.map((v) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`)),
          },
        ],
        series: [
          {},
          { label: "p50", scale: "ms", stroke: ACCENT, width: 2, value: (u, v) => ms(v), points: dots(ACCENT) },
          { label: "p90", scale: "ms", stroke: WARN, width: 2, value: (u, v) => ms(v), points: dots(WARN) },
          { label: "p99", scale: "ms", stroke: INK, width: 1.5, dash: [2, 3], value: (u, v) => ms(v), points: dots(INK) },
        ],
        plugins: [thresholdLines(thresholds.p90_ms.map((v, i) => ({ value: v, scale: "ms", label: `p90 ${v / 1000} s`, color: levels[i] })))],
      },
      [series.t, series.p50, series.p90, series.p99],
    ];
  }

  let tries = 0;
  function draw(root) {
    const source = document.getElementById(root.dataset.healthCharts);
    if (!source) return;
    if (typeof uPlot === "undefined") {
      // Swapped in by htmx, the two scripts load in either order: wait for uPlot a little while.
      if (tries++ < 100) setTimeout(() => draw(root), 100);
      return;
    }
    const data = JSON.parse(source.textContent);
    const charts = [];
    for (const box of root.querySelectorAll("[data-chart]")) {
      if (box.dataset.drawn) continue;
      box.dataset.drawn = "1";
      const series = data[box.dataset.chart];
      const hourly = box.dataset.chart === "hour";
      const width = Math.max(box.clientWidth, 200);
      const [opts, values] = box.dataset.kind === "latency"
        ? latencyChart(series, data.thresholds, width, data.beyond_ms, hourly)
        : trafficChart(series, data.thresholds, width, hourly);
      charts.push([box, new uPlot(opts, values, box)]);
    }
    // Follow the page's width (a phone turned, a window resized).
    if (charts.length && "ResizeObserver" in window) {
      const observer = new ResizeObserver(() => {
        for (const [box, chart] of charts) chart.setSize({ width: Math.max(box.clientWidth, 200), height: HEIGHT });
      });
      observer.observe(root);
    }
  }

  function drawAll(scope) {
    for (const root of (scope || document).querySelectorAll("[data-health-charts]")) draw(root);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", () => drawAll());
  else drawAll();
  document.addEventListener("htmx:load", (event) => drawAll(event.target));
})();
