// loglens dashboard: the frame of a time chart (grid, axes, scales) that the timeline and the
// trend draw in, as SVG. Uses svg() and fmt() of dashboard.js.
"use strict";

function niceStep(max, ticks) {
  const raw = Math.max(max, 1) / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return Math.max(1, step);
}

function timeLabel(ms, spanMs) {
  const iso = new Date(ms).toISOString();
  if (spanMs > 3 * 86400e3) return iso.slice(0, 10);
  if (spanMs > 86400e3) return `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  return iso.slice(11, 16);
}

// An SVG with a time axis over [t0, t1) and a count axis up to `max`: the frame both the
// timeline and the trend draw in (`width` in its own units: less for a narrower panel, so
// the labels stay readable). Returns the svg and its scales.
function timeFrame({ t0, t1, max, yTitle, label, width = 1000 }) {
  const step = niceStep(max, 5);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const height = 300;
  const m = { left: 64, right: 16, top: 12, bottom: 48 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const x = (t) => m.left + ((t - t0) / (t1 - t0)) * plotW;
  const y = (v) => m.top + plotH - (v / top) * plotH;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": label });

  const grid = svg("g", { class: "grid" });
  const yAxis = svg("g", { class: "axis y-axis" });
  for (let v = 0; v <= top; v += step) {
    grid.append(svg("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v) }));
    yAxis.append(svg("text", { x: m.left - 8, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
  }
  yAxis.append(svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + plotH }));
  yAxis.append(svg("text", { class: "title", transform: `translate(14 ${m.top + plotH / 2}) rotate(-90)`,
    "text-anchor": "middle" }, yTitle));

  const xAxis = svg("g", { class: "axis x-axis" });
  xAxis.append(svg("line", { x1: m.left, x2: width - m.right, y1: m.top + plotH, y2: m.top + plotH }));
  const ticks = 6;
  for (let i = 0; i <= ticks; i += 1) {
    const t = t0 + ((t1 - t0) * i) / ticks;
    const at = x(t);
    xAxis.append(svg("line", { x1: at, x2: at, y1: m.top + plotH, y2: m.top + plotH + 5 }));
    const anchor = i === 0 ? "start" : i === ticks ? "end" : "middle";
    xAxis.append(svg("text", { x: at, y: m.top + plotH + 18, "text-anchor": anchor }, timeLabel(t, t1 - t0)));
  }
  xAxis.append(svg("text", { class: "title", x: m.left + plotW / 2, y: height - 6,
    "text-anchor": "middle" }, "time (UTC)"));
  root.append(grid, yAxis, xAxis);
  return { root, x, y, t0, t1, plotTop: m.top, plotH };
}
