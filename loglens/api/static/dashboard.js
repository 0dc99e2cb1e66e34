// loglens dashboard: reads the HTTP API with the operator's bearer token. No libraries.
// Every value from the API is put in the page with textContent, never as HTML.
// The time charts' frame is in chart.js, the panels of the findings in findings.js,
// incidents.js, trend.js, diff.js and alerts.js: classic scripts sharing one global scope
// and these helpers.
"use strict";

const LEVELS = ["TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL", "UNKNOWN"];
const COLORS = {
  TRACE: "#a3acb9", DEBUG: "#6c7a90", INFO: "#2f80ed", NOTICE: "#1f9d6a",
  WARNING: "#f2a93b", ERROR: "#e5533d", CRITICAL: "#8e1b4a", UNKNOWN: "#c7ccd6",
};
const BUCKET_MS = { minute: 60e3, hour: 3600e3, day: 86400e3 };
const TOKEN_KEY = "loglens.token";
const PAGE_SIZE = 20;
const SVG = "http://www.w3.org/2000/svg";

const state = { offset: 0, total: 0, filters: {}, generation: 0 };
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") query.set(key, String(value));
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, {
    headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` },
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof body.detail === "string" ? body.detail : response.statusText;
    throw new ApiError(response.status, detail);
  }
  return body;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child === null || child === undefined ? "" : child);
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

const fmt = (n) => Number(n).toLocaleString("en-US");
const shortTime = (ts) => (ts ? ts.replace("T", " ").replace(/(\.\d+)?Z$/, "") : "–");

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

// What went wrong, in words an operator reads at once (the API's detail names the cause).
function describeError(error) {
  if (!(error instanceof ApiError)) return `The API could not be reached: ${error.message || error}`;
  const prefix = {
    401: "Not signed in, or the token was refused: sign in again.",
    404: "Not found:",
    409: "Cannot answer that:",
    422: "The request was refused:",
    429: "Too many wrong tokens from this address:",
    503: "The results are not readable now:",
  }[error.status] || `The API answered ${error.status}:`;
  return `${prefix} ${error.message}`;
}

// Run one panel's `work`: its section says loading/ready/error (data-state) and an error is
// shown in the panel's own message box, so one failing panel never blanks the others.
// `panel` is {id, generation, clear?}; `work(current)` checks current() before rendering.
async function runPanel(panel, work) {
  const section = $(panel.id);
  const generation = ++panel.generation; // a later load of this panel wins
  section.dataset.state = "loading";
  try {
    const done = await work(() => generation === panel.generation);
    if (generation !== panel.generation) return;
    panelMessage(section, "");
    section.dataset.state = "ready";
    return done;
  } catch (error) {
    if (generation !== panel.generation) return;
    if (panel.clear) panel.clear(); // no answer of an earlier load stays beside the error
    panelMessage(section, describeError(error));
    section.dataset.state = "error";
  }
}

function panelMessage(section, text) {
  const box = section.querySelector(".panel-message");
  box.textContent = text;
  box.hidden = !text;
}

function say(text, isError) {
  const box = $("message");
  box.textContent = text;
  box.className = isError ? "message error" : "message";
  box.hidden = !text;
}

// ---- filters -------------------------------------------------------------------------------

// A datetime-local value read as UTC (the inputs say so), "" when empty.
const utcInput = (value) => (value ? `${value.length === 16 ? `${value}:00` : value}Z` : "");

function readFilters() {
  return {
    start: utcInput($("f-start").value),
    end: utcInput($("f-end").value),
    operator: $("f-operator").value.trim(),
    upload: $("f-upload").value,
  };
}

// ---- rendering -----------------------------------------------------------------------------

function renderStats(stats) {
  $("entries").textContent = fmt(stats.entries);
  $("uploads-count").textContent = fmt(stats.uploads);
  $("first-ts").textContent = shortTime(stats.first_timestamp);
  $("last-ts").textContent = shortTime(stats.last_timestamp);
  const box = $("levels");
  box.replaceChildren();
  const levels = LEVELS.filter((level) => stats.levels[level]);
  if (!levels.length) box.append(el("p", { class: "empty" }, "No entries match these filters."));
  for (const level of levels) {
    const card = el("div", { class: "level", "data-level": level },
      el("span", { class: "label" }, level),
      el("span", { class: "value" }, fmt(stats.levels[level])));
    card.style.borderLeftColor = COLORS[level];
    box.append(card);
  }
}

function renderErrors(stats) {
  const body = $("errors").tBodies[0];
  body.replaceChildren();
  if (!stats.top_errors.length) {
    body.append(el("tr", {}, el("td", { colspan: "2", class: "empty" }, "No errors.")));
  }
  for (const error of stats.top_errors) {
    const where = error.upload_id ? `upload ${error.upload_id} (${error.original_name}), line ${error.line}` : "";
    const row = el("tr", { class: "pick", "data-template-id": error.template_id,
      title: "Show this template's trend" });
    row.addEventListener("click", () => showTrendOf("template", error.template_id, error.template));
    row.append(
      el("td", { class: "num count" }, fmt(error.count)),
      el("td", {},
        el("span", { class: "template" }, error.template),
        el("span", { class: "example sample" }, `e.g. ${error.example ?? ""}`),
        el("span", { class: "where" }, where)));
    body.append(row);
  }
}

function renderRejected(rejected) {
  const body = $("rejected").tBodies[0];
  body.replaceChildren();
  if (!rejected.reasons.length) {
    body.append(el("tr", {}, el("td", { colspan: "3", class: "empty" }, "No rejected lines.")));
  }
  for (const reason of rejected.reasons) {
    const sample = reason.samples.length ? reason.samples[0] : null;
    const text = sample ? `line ${sample.line}: ${sample.text === "" ? "(empty)" : sample.text}` : "";
    body.append(el("tr", { "data-reason": reason.reason },
      el("td", {}, reason.reason),
      el("td", { class: "num" }, fmt(reason.count)),
      el("td", { class: "sample" }, text)));
  }
}

function renderUploads(uploads) {
  state.total = uploads.total;
  const body = $("uploads").tBodies[0];
  body.replaceChildren();
  if (!uploads.items.length) {
    body.append(el("tr", {}, el("td", { colspan: "8", class: "empty" }, "No uploads.")));
  }
  for (const upload of uploads.items) {
    const id = String(upload.upload_id);
    const row = el("tr", { class: "pick", "data-upload-id": id, title: "Show only this upload" },
      el("td", { class: "num" }, id),
      el("td", {}, upload.operator),
      el("td", {}, upload.original_name),
      el("td", { class: "num" }, bytes(upload.size)),
      el("td", {}, shortTime(upload.received_at)),
      el("td", {}, upload.status),
      el("td", {}, upload.kind === "stream"
        ? (upload.ended_at ? "stream, ended" : "stream, live")
        : upload.job_state || "–"),
      el("td", { class: "num" }, upload.entries === null ? "–" : fmt(upload.entries)));
    if (id === state.filters.upload) row.classList.add("selected");
    row.addEventListener("click", () => pickUpload(id));
    body.append(row);
  }
  const last = Math.min(state.offset + PAGE_SIZE, uploads.total);
  $("page-info").textContent = uploads.total ? `${state.offset + 1}–${last} of ${fmt(uploads.total)}` : "";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = last >= uploads.total;
}

function renderTimeline(timeline) {
  const chart = $("chart");
  const legend = $("legend");
  chart.replaceChildren();
  legend.replaceChildren();
  state.timelineFrame = null;
  $("timeline-bucket").textContent = `entries per ${timeline.bucket}, UTC`;
  const bucketMs = BUCKET_MS[timeline.bucket];
  const byBucket = new Map();
  for (const point of timeline.points) {
    const at = Date.parse(point.bucket);
    if (!byBucket.has(at)) byBucket.set(at, {});
    byBucket.get(at)[point.level] = (byBucket.get(at)[point.level] || 0) + point.count;
  }
  if (!byBucket.size) {
    chart.append(el("p", { class: "empty" }, "No timed entries match these filters."));
    return;
  }
  const levels = LEVELS.filter((level) => timeline.points.some((p) => p.level === level));
  for (const level of levels) {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = COLORS[level];
    legend.append(el("span", { class: "key", "data-level": level }, swatch, level));
  }
  const times = [...byBucket.keys()].sort((a, b) => a - b);
  const t0 = times[0];
  const t1 = times[times.length - 1] + bucketMs;
  const totals = times.map((t) => Object.values(byBucket.get(t)).reduce((a, b) => a + b, 0));
  const frame = timeFrame({ t0, t1, max: Math.max(...totals), yTitle: `entries per ${timeline.bucket}`,
    label: `entries per ${timeline.bucket} and level` });
  const { root, x, y } = frame;

  // Anomaly windows go under the bars (findings.js draws them, whichever answer comes last).
  frame.marks = svg("g", { class: "anomaly-marks" });
  const bars = svg("g", { class: "bars" });
  const barW = Math.max(1, (bucketMs / (t1 - t0)) * (x(t1) - x(t0)) - (times.length < 120 ? 1 : 0));
  for (const t of times) {
    let base = 0;
    for (const level of levels) {
      const count = byBucket.get(t)[level] || 0;
      if (!count) continue;
      const rect = svg("rect", { class: "mark", "data-level": level, x: x(t).toFixed(2),
        y: y(base + count).toFixed(2), width: barW.toFixed(2),
        height: Math.max(0.5, y(base) - y(base + count)).toFixed(2), fill: COLORS[level] });
      rect.append(svg("title", {}, `${new Date(t).toISOString().slice(0, 16)}Z ${level}: ${fmt(count)}`));
      bars.append(rect);
      base += count;
    }
  }
  root.append(frame.marks, bars);
  chart.append(root);
  state.timelineFrame = frame;
  state.timelineBucket = timeline.bucket;
  markAnomalies();
}

function fillUploadChoices(uploads) {
  fillDiffChoices(uploads.items);
  fillAlertSources(uploads.items);
  const select = $("f-upload");
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all uploads"));
  for (const upload of uploads.items) {
    select.append(el("option", { value: String(upload.upload_id) },
      `#${upload.upload_id} ${upload.original_name} (${upload.operator})`));
  }
  select.value = chosen;
  const operators = $("operators");
  operators.replaceChildren();
  for (const name of [...new Set(uploads.items.map((u) => u.operator))].sort()) {
    operators.append(el("option", { value: name }));
  }
}

// ---- loading -------------------------------------------------------------------------------

async function loadUploads() {
  // The time range is log time; /uploads would read it as the time of receipt: not passed.
  const { operator, upload } = state.filters;
  const uploads = await api("/uploads", { operator, upload, limit: PAGE_SIZE, offset: state.offset,
    sort: "-id" });
  renderUploads(uploads);
  return uploads;
}

async function load() {
  const body = document.body;
  const generation = ++state.generation; // a later load wins over one still running
  body.dataset.state = "loading";
  say("");
  // The findings load beside the core figures, each panel on its own (its errors in it).
  incidentsPanel.offset = 0;
  loadIncidents();
  loadAnomalies();
  loadCategories();
  loadAlerts();
  try {
    const [me, stats, , rejected, choices, timeline] = await Promise.all([
      api("/me"),
      api("/logs/stats", { ...state.filters, n: 5 }),
      loadUploads(),
      api("/rejected", state.filters),
      api("/uploads", { limit: 200, sort: "-id" }),
      api("/timeline", { ...state.filters, bucket: $("f-bucket").value }),
    ]);
    if (generation !== state.generation) return;
    const reads = me.read_all ? "every operator's uploads" : `${me.operator}'s uploads only`;
    $("whoami").textContent = `signed in as ${me.operator} (reads ${reads})`;
    fillUploadChoices(choices);
    renderStats(stats);
    renderErrors(stats);
    renderRejected(rejected);
    renderTimeline(timeline);
    $("content").hidden = false;
    body.dataset.state = "ready";
    loadTrend(); // after the timeline: an "as timeline" bucket follows the one it chose
    compareOnce();
  } catch (error) {
    if (generation !== state.generation) return;
    body.dataset.state = "error";
    if (error instanceof ApiError && error.status === 401) {
      signOut();
      say(`Sign-in refused: ${error.message}`, true);
    } else {
      say(error.message || String(error), true);
    }
  }
}

function pickUpload(id) {
  $("f-upload").value = id;
  state.filters = readFilters();
  state.offset = 0;
  load();
}

function showSignedIn(signedIn) {
  $("login").hidden = signedIn;
  $("session").hidden = !signedIn;
  $("filters").hidden = !signedIn;
  if (!signedIn) $("content").hidden = true;
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  $("live-toggle").checked = false;
  closeLive("off");
  showSignedIn(false);
}

function start() {
  startFindings();
  startIncidents();
  startTrend();
  startDiff();
  startAlerts();
  startLive();
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    showSignedIn(true);
    load();
  });
  $("sign-out").addEventListener("click", () => { signOut(); say(""); });
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = readFilters();
    state.offset = 0;
    load();
  });
  $("clear").addEventListener("click", () => {
    HTMLFormElement.prototype.reset.call($("filters"));
    state.filters = {};
    state.offset = 0;
    load();
  });
  $("prev").addEventListener("click", () => {
    state.offset = Math.max(0, state.offset - PAGE_SIZE);
    loadUploads().catch((error) => say(error.message, true));
  });
  $("next").addEventListener("click", () => {
    state.offset += PAGE_SIZE;
    loadUploads().catch((error) => say(error.message, true));
  });
  if (sessionStorage.getItem(TOKEN_KEY)) {
    showSignedIn(true);
    load();
  } else {
    showSignedIn(false);
  }
}

document.addEventListener("DOMContentLoaded", start);
