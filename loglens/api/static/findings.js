// loglens dashboard: the Anomalies panel (and its marks on the timeline) and the Categories
// panel. Uses the helpers of dashboard.js; every value goes in with textContent.
"use strict";

const KIND_COLORS = {
  error_spike: "#e5533d", volume_spike: "#2f80ed", silence: "#6c7a90",
  level_shift: "#f2a93b", new_template: "#8e1b4a", rare_template: "#1f9d6a",
};
const ANOMALY_LIMIT = 100;
const WIDE_WINDOW = 0.5; // of the timeline's span

const anomaliesPanel = {
  id: "anomalies-panel", generation: 0, items: [],
  clear() { anomaliesPanel.items = []; markAnomalies(); renderAnomalies(null); },
};
const categoriesPanel = {
  id: "categories-panel", generation: 0,
  clear() { $("categories").replaceChildren(); },
};

// Python writes microseconds; keep milliseconds so every browser parses the time.
const parseTime = (ts) => Date.parse(ts.replace(/(\.\d{3})\d+/, "$1"));

function windowText(start, end) {
  const from = shortTime(start);
  const to = shortTime(end);
  // The same day twice says nothing: show only the time of the end.
  return `${from} → ${from.slice(0, 10) === to.slice(0, 10) ? to.slice(11) : to}`;
}

function kindBadge(kind) {
  const badge = el("span", { class: "badge kind" }, kind.replace("_", " "));
  badge.style.background = KIND_COLORS[kind] || "#667085";
  return badge;
}

// ---- anomalies ------------------------------------------------------------------------------

function anomalyParams() {
  const minScore = $("a-min-score").value.trim();
  return { ...state.filters, kind: $("a-kind").value, min_score: minScore, limit: ANOMALY_LIMIT };
}

function loadAnomalies() {
  return runPanel(anomaliesPanel, async (current) => {
    const page = await api("/anomalies", anomalyParams());
    if (!current()) return;
    anomaliesPanel.items = page.items;
    renderAnomalies(page);
    markAnomalies();
  });
}

function renderAnomalies(page) {
  const body = $("anomalies").tBodies[0];
  body.replaceChildren();
  if (!page) {
    $("anomalies-count").textContent = "";
    body.append(el("tr", {}, el("td", { colspan: "5", class: "empty" }, "No answer (the message above says why).")));
    return;
  }
  const shown = page.items.length;
  $("anomalies-count").textContent = page.total > shown
    ? `the ${shown} highest scores of ${fmt(page.total)}` : `${fmt(page.total)}, highest score first`;
  if (!shown) {
    body.append(el("tr", {}, el("td", { colspan: "5", class: "empty" }, "No anomalies match these filters.")));
  }
  page.items.forEach((anomaly, index) => {
    const examples = anomaly.examples.slice(0, 3).map((e) => `${e.file}:${e.line}`).join(", ");
    const more = anomaly.examples.length > 3 ? ` (+${anomaly.examples.length - 3} more)` : "";
    const upload = anomaly.upload_id ? `upload #${anomaly.upload_id} (${anomaly.original_name})` : "";
    const template = anomaly.template_ids[0];
    const row = el("tr", { "data-kind": anomaly.kind, "data-index": String(index) },
      el("td", {}, kindBadge(anomaly.kind)),
      el("td", { class: "num score" }, anomaly.score.toFixed(1)),
      el("td", { class: "when" }, windowText(anomaly.start, anomaly.end)),
      el("td", { class: "explanation" }, anomaly.explanation),
      el("td", { class: "where-cell" },
        el("span", { class: "sample examples" }, examples + more),
        el("span", { class: "where" }, [upload, anomaly.source].filter(Boolean).join(" · "))));
    if (template) {
      row.classList.add("pick");
      row.title = "Show the trend of its template";
      row.addEventListener("click", () => showTrendOf("template", template, anomaly.explanation));
    }
    body.append(row);
  });
}

// Shade each anomaly's window on the timeline, under the bars; hovering tells what it is.
function markAnomalies() {
  const frame = state.timelineFrame;
  if (!frame) return;
  frame.marks.replaceChildren();
  anomaliesPanel.items.forEach((anomaly, index) => {
    const start = Math.max(parseTime(anomaly.start), frame.t0);
    const end = Math.min(parseTime(anomaly.end), frame.t1);
    if (!(end > start)) return;
    const x0 = frame.x(start);
    const width = Math.max(3, frame.x(end) - x0);
    const color = KIND_COLORS[anomaly.kind] || "#667085";
    const mark = svg("g", { class: "anomaly-window", "data-kind": anomaly.kind, "data-index": index });
    // A window over most of the chart (a whole upload against earlier ones) would tint it
    // all and hide the short incidents: it gets the flag on top only.
    if (end - start < WIDE_WINDOW * (frame.t1 - frame.t0)) {
      mark.append(svg("rect", { class: "shade", x: x0.toFixed(2), y: frame.plotTop,
        width: width.toFixed(2), height: frame.plotH, fill: color }));
    }
    mark.append(
      svg("rect", { class: "flag", x: x0.toFixed(2), y: frame.plotTop, width: width.toFixed(2),
        height: 5, fill: color }),
      svg("title", {}, `${anomaly.kind} (score ${anomaly.score.toFixed(1)}), `
        + `${windowText(anomaly.start, anomaly.end)} UTC: ${anomaly.explanation}`));
    mark.addEventListener("click", () => highlightAnomaly(index));
    frame.marks.append(mark);
  });
}

function highlightAnomaly(index) {
  for (const row of $("anomalies").tBodies[0].rows) {
    row.classList.toggle("selected", row.dataset.index === String(index));
  }
  const row = $("anomalies").querySelector(`tbody tr[data-index="${Number(index)}"]`);
  if (row) row.scrollIntoView({ block: "center" });
}

// ---- categories -----------------------------------------------------------------------------

function loadCategories() {
  return runPanel(categoriesPanel, async (current) => {
    const answer = await api("/categories", { ...state.filters, shown: 3 });
    if (current()) renderCategories(answer.items);
  });
}

function renderCategories(items) {
  const box = $("categories");
  box.replaceChildren();
  if (!items.length) {
    box.append(el("p", { class: "empty" }, "No categorised entries match these filters."));
    return;
  }
  const most = Math.max(...items.map((item) => item.count), 1);
  for (const item of items) {
    const fill = el("span", { class: "fill" });
    fill.style.width = `${Math.max(0.5, (100 * item.count) / most).toFixed(2)}%`;
    const tops = item.top_templates.map((t) => `${fmt(t.count)}  ${t.template}`).join("\n");
    const row = el("button", { type: "button", class: "hbar", "data-category": item.category,
      title: `Show the trend of ${item.category}\n${tops}` },
      el("span", { class: "name" }, item.category,
        el("span", { class: "where" }, `${fmt(item.templates)} template${item.templates === 1 ? "" : "s"}`)),
      el("span", { class: "track" }, fill),
      el("span", { class: "num count" }, fmt(item.count)));
    row.addEventListener("click", () => showTrendOf("category", item.category, item.category));
    box.append(row);
  }
}

function markCategory(category) {
  for (const row of $("categories").querySelectorAll(".hbar")) {
    row.classList.toggle("selected", row.dataset.category === category);
  }
}

function startFindings() {
  const kinds = $("a-kind");
  for (const kind of Object.keys(KIND_COLORS)) kinds.append(el("option", { value: kind }, kind.replace("_", " ")));
  kinds.addEventListener("change", loadAnomalies);
  $("a-min-score").addEventListener("change", loadAnomalies);
}
