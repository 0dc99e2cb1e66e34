// loglens dashboard: the "What changed" panel, GET /diff between two uploads or two log-time
// windows: templates that appeared or vanished, and the rates that moved most.
"use strict";

const WINDOW_SIDE = "window";

const diffPanel = {
  id: "diff-panel", generation: 0, compared: false,
  clear() { $("diff-result").hidden = true; },
};

// The `a`/`b` parameter of one side: an upload id, or START..END in UTC.
function sideValue(name) {
  const choice = $(`d-${name}`).value;
  if (choice !== WINDOW_SIDE) return choice;
  return `${utcInput($(`d-${name}-start`).value)}..${utcInput($(`d-${name}-end`).value)}`;
}

function fillDiffChoices(uploads) {
  const first = !$("d-b").value;
  for (const name of ["a", "b"]) {
    const select = $(`d-${name}`);
    const chosen = select.value;
    select.replaceChildren();
    for (const upload of uploads) {
      select.append(el("option", { value: String(upload.upload_id) },
        `#${upload.upload_id} ${upload.original_name} (${upload.operator}, ${shortTime(upload.received_at)})`));
    }
    select.append(el("option", { value: WINDOW_SIDE }, "a time window…"));
    if (chosen) select.value = chosen;
  }
  if (first && uploads.length >= 2) {
    // By default: the newest upload (b) against the one before it of the same file, if any.
    const [newest, ...older] = uploads;
    const before = older.find((u) => u.original_name === newest.original_name) || older[0];
    $("d-b").value = String(newest.upload_id);
    $("d-a").value = String(before.upload_id);
  }
  showWindowInputs();
}

function showWindowInputs() {
  for (const name of ["a", "b"]) $(`d-${name}-window`).hidden = $(`d-${name}`).value !== WINDOW_SIDE;
}

// Compare the default choices once, after the first load, so the panel is not empty.
function compareOnce() {
  if (diffPanel.compared) return;
  const a = $("d-a").value;
  const b = $("d-b").value;
  if (a && b && a !== b && a !== WINDOW_SIDE && b !== WINDOW_SIDE) compare();
}

function compare() {
  diffPanel.compared = true;
  const a = sideValue("a");
  const b = sideValue("b");
  // Windows compare the uploads the filters select; two uploads need no other filter.
  const windows = $("d-a").value === WINDOW_SIDE || $("d-b").value === WINDOW_SIDE;
  const { operator, upload } = windows ? state.filters : {};
  return runPanel(diffPanel, async (current) => {
    const diff = await api("/diff", { a, b, operator, upload, rate: $("d-rate").value, top: 10 });
    if (current()) renderDiff(diff);
  });
}

function sideText(name, side) {
  const what = side.upload !== null ? `upload #${side.upload}` : "the window";
  const span = `${shortTime(side.start)} → ${shortTime(side.end)}`;
  return `${name}: ${what}, ${span}, ${fmt(side.entries)} entries, ${fmt(side.templates)} templates`;
}

function rateText(rate, kind) {
  if (kind === "hour") return `${rate >= 10 ? fmt(Math.round(rate)) : rate.toPrecision(2)}/h`;
  const percent = 100 * rate;
  return `${percent >= 10 ? percent.toFixed(1) : percent.toPrecision(2)} %`;
}

// A move of a rate: percentage points of the share, or entries per hour.
function changeText(change, kind) {
  if (kind === "hour") return rateText(change, kind);
  const points = 100 * change;
  return `${points >= 10 ? points.toFixed(1) : points.toPrecision(2)} pts`;
}

function templateCell(item) {
  const where = item.upload_id ? `upload ${item.upload_id} (${item.original_name}), line ${item.line}` : "";
  return el("td", {},
    el("span", { class: "template" }, item.template),
    el("span", { class: "example sample" }, item.example ? `e.g. ${item.example}` : ""),
    el("span", { class: "where" }, where));
}

function diffRow(item, ...cells) {
  const row = el("tr", { class: "pick", "data-template-id": item.template_id,
    title: "Show this template's trend" }, ...cells);
  row.addEventListener("click", () => showTrendOf("template", item.template_id, item.template));
  return row;
}

function fillList(tableId, list, columns, row) {
  const table = $(tableId);
  const body = table.tBodies[0];
  body.replaceChildren();
  $(`${tableId}-total`).textContent = list.total > list.items.length
    ? `${list.items.length} of ${fmt(list.total)}` : fmt(list.total);
  if (!list.items.length) {
    body.append(el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, "None.")));
  }
  for (const item of list.items) body.append(row(item));
}

function renderDiff(diff) {
  $("diff-result").hidden = false;
  $("diff-sides").replaceChildren(
    el("span", {}, sideText("A (before)", diff.a)), el("br"), el("span", {}, sideText("B (after)", diff.b)));
  // The same content on both sides is said once, not as three empty tables.
  $("diff-no-change").hidden = !diff.no_change;
  $("diff-lists").hidden = diff.no_change;
  fillList("diff-appeared", diff.appeared, 2, (item) =>
    diffRow(item, el("td", { class: "num count" }, fmt(item.count_b)), templateCell(item)));
  fillList("diff-vanished", diff.vanished, 2, (item) =>
    diffRow(item, el("td", { class: "num count" }, fmt(item.count_a)), templateCell(item)));
  fillList("diff-changed", diff.changed, 4, (item) => {
    const ratio = item.ratio === null ? "new" : `×${item.ratio >= 10 ? fmt(Math.round(item.ratio)) : item.ratio.toPrecision(2)}`;
    return diffRow(item,
      templateCell(item),
      el("td", { class: "num" }, rateText(item.rate_a, diff.rate), el("span", { class: "where" }, fmt(item.count_a))),
      el("td", { class: "num" }, rateText(item.rate_b, diff.rate), el("span", { class: "where" }, fmt(item.count_b))),
      el("td", { class: `num change ${item.change > 0 ? "up" : "down"}` },
        `${item.change > 0 ? "▲" : "▼"} ${changeText(Math.abs(item.change), diff.rate)}`,
        el("span", { class: "where" }, ratio)));
  });
  const per = diff.rate === "hour" ? "entries per hour" : "share of the side's entries";
  $("diff-rate-a").textContent = `A, ${per}`;
  $("diff-rate-b").textContent = `B, ${per}`;
}

function startDiff() {
  for (const name of ["a", "b"]) {
    $(`d-${name}`).addEventListener("change", showWindowInputs);
  }
  $("diff-form").addEventListener("submit", (event) => {
    event.preventDefault();
    compare();
  });
}
