// loglens dashboard: the Trend panel, entries over time per level, template or category,
// drawn as SVG lines in the timeline's frame. Uses the helpers of dashboard.js.
"use strict";

const PALETTE = ["#2f5bd3", "#e5533d", "#1f9d6a", "#f2a93b", "#8e1b4a",
  "#2f80ed", "#6c7a90", "#b07aa1", "#9c755f", "#17becf"];
// Beyond this many buckets the empty ones are not drawn as zeros (the line joins the others).
const MAX_FILLED_BUCKETS = 1500;
const MAX_DOTTED_BUCKETS = 200;
const TREND_WIDTH = 640; // the panel is about 3/5 of the timeline's width

const trendPanel = {
  id: "trend-panel", generation: 0, key: null, label: null,
  clear() { $("trend-chart").replaceChildren(); $("trend-legend").replaceChildren(); },
};

function trendBucket() {
  const chosen = $("t-bucket").value;
  if (chosen) return chosen;
  const timeline = $("f-bucket").value;
  return timeline !== "auto" ? timeline : state.timelineBucket || "hour";
}

function loadTrend() {
  const by = $("t-by").value;
  const key = trendPanel.key;
  const bucket = trendBucket();
  $("t-key").hidden = !key;
  $("t-key-text").textContent = key ? `${by} ${key}${trendPanel.label && trendPanel.label !== key ? `: ${trendPanel.label}` : ""}` : "";
  $("trend-what").textContent = `entries per ${bucket} and ${by}${key ? "" : by === "template" ? " (the 10 biggest)" : ""}, UTC`;
  markCategory(by === "category" ? key : null);
  return runPanel(trendPanel, async (current) => {
    const trend = await api("/trend", { ...state.filters, by, key, bucket, top: 10 });
    if (current()) renderTrend(trend);
  });
}

// Show one level, template or category (from a click elsewhere) and bring the panel into view.
function showTrendOf(by, key, label) {
  $("t-by").value = by;
  trendPanel.key = key;
  trendPanel.label = label;
  loadTrend();
  $(trendPanel.id).scrollIntoView({ block: "start" });
}

function seriesColor(trend, key, index) {
  return trend.by === "level" && COLORS[key] ? COLORS[key] : PALETTE[index % PALETTE.length];
}

function renderTrend(trend) {
  const chart = $("trend-chart");
  const legend = $("trend-legend");
  chart.replaceChildren();
  legend.replaceChildren();
  const note = $("trend-note");
  note.hidden = !trend.levels;
  note.textContent = trend.levels
    ? `Counts ${trend.levels.join(", ")} only: below WARNING, templates and categories are kept per hour.`
    : "";
  trend.keys.forEach((item, index) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = seriesColor(trend, item.key, index);
    const name = trend.by === "template" ? `${item.key} ${item.label}` : item.label || item.key;
    const key = el("button", { type: "button", class: "key", "data-key": item.key,
      title: trendPanel.key ? name : `Show only ${name}` },
      swatch, el("span", { class: "label" }, name), el("span", { class: "total" }, fmt(item.count)));
    key.addEventListener("click", () => showTrendOf(trend.by, item.key, item.label));
    legend.append(key);
  });
  if (!trend.points.length) {
    chart.append(el("p", { class: "empty" }, "No entries of this kind over time match these filters."));
    return;
  }
  const bucketMs = BUCKET_MS[trend.bucket];
  const series = new Map(trend.keys.map((item) => [item.key, new Map()]));
  for (const point of trend.points) {
    if (!series.has(point.key)) series.set(point.key, new Map());
    series.get(point.key).set(parseTime(point.bucket), point.count);
  }
  const stamps = trend.points.map((p) => parseTime(p.bucket));
  const t0 = Math.min(...stamps);
  const last = Math.max(...stamps);
  const buckets = Math.round((last - t0) / bucketMs) + 1;
  const filled = buckets <= MAX_FILLED_BUCKETS;
  const frame = timeFrame({ t0, t1: last + bucketMs, max: Math.max(...trend.points.map((p) => p.count)),
    yTitle: `entries per ${trend.bucket}`, label: `entries per ${trend.bucket} and ${trend.by}`,
    width: TREND_WIDTH });
  const lines = svg("g", { class: "lines" });
  [...series.keys()].forEach((key, index) => {
    const counts = series.get(key);
    const times = filled
      ? Array.from({ length: buckets }, (_, i) => t0 + i * bucketMs)
      : [...counts.keys()].sort((a, b) => a - b);
    const color = seriesColor(trend, key, index);
    const at = (t) => [frame.x(t + bucketMs / 2).toFixed(2), frame.y(counts.get(t) || 0).toFixed(2)];
    const path = times.map((t, i) => `${i ? "L" : "M"}${at(t).join(" ")}`).join(" ");
    const group = svg("g", { class: "series", "data-key": key });
    group.append(svg("path", { d: path, stroke: color, fill: "none" }));
    if (times.length <= MAX_DOTTED_BUCKETS) {
      for (const t of counts.keys()) {
        const [cx, cy] = at(t);
        const dot = svg("circle", { class: "point", cx, cy, r: 3, fill: color, "data-key": key,
          "data-bucket": new Date(t).toISOString(), "data-count": counts.get(t) });
        dot.append(svg("title", {}, `${new Date(t).toISOString().slice(0, 16)}Z ${key}: ${fmt(counts.get(t))}`));
        group.append(dot);
      }
    }
    lines.append(group);
  });
  frame.root.append(lines);
  chart.append(frame.root);
}

function startTrend() {
  $("t-by").addEventListener("change", () => {
    trendPanel.key = null;
    trendPanel.label = null;
    loadTrend();
  });
  $("t-bucket").addEventListener("change", loadTrend);
  $("t-key-clear").addEventListener("click", () => {
    trendPanel.key = null;
    trendPanel.label = null;
    loadTrend();
  });
}
