// loglens dashboard: the Incidents panel, first of the findings. Related anomalies grouped
// into one incident each, best first, a page at a time; each row collapsed, expanded to show
// what changed and its findings (each explained, with where to look; click one for its
// template's trend). Uses the helpers of dashboard.js, findings.js and trend.js; every value
// goes in with textContent.
"use strict";

const INCIDENT_PAGE = 10;

const incidentsPanel = {
  id: "incidents-panel", generation: 0, offset: 0,
  clear() { renderIncidents(null); },
};

function loadIncidents() {
  return runPanel(incidentsPanel, async (current) => {
    const page = await api("/incidents", { ...state.filters, limit: INCIDENT_PAGE,
      offset: incidentsPanel.offset, findings: 50 });
    if (current()) renderIncidents(page);
  });
}

function incidentSummary(incident) {
  const count = incident.finding_count;
  const upload = incident.upload_id ? `upload #${incident.upload_id} (${incident.original_name})` : "";
  return el("summary", {},
    el("span", { class: "num score" }, incident.score.toFixed(1)),
    el("span", { class: "when" }, windowText(incident.start, incident.end)),
    el("span", { class: "title" }, incident.title),
    el("span", { class: "kinds" }, ...incident.kinds.map(kindBadge)),
    el("span", { class: "where" }, [`${fmt(count)} finding${count === 1 ? "" : "s"}`, upload]
      .filter(Boolean).join(" · ")));
}

function incidentBody(incident) {
  const body = el("div", { class: "incident-body" });
  if (incident.templates.length) {
    const changed = el("ul", { class: "changed" });
    for (const t of incident.templates) {
      changed.append(el("li", {}, el("span", { class: "num" }, fmt(t.entries)),
        ` entries (usually ${Number(t.expected).toLocaleString("en-US", { maximumFractionDigits: 1 })}) of `,
        el("code", {}, t.template)));
    }
    body.append(el("h3", {}, "Templates that changed most"), changed);
  }
  const table = el("table", { class: "data findings" },
    el("thead", {}, el("tr", {}, el("th", {}, "Kind"), el("th", { class: "num" }, "Score"),
      el("th", {}, "Window (UTC)"), el("th", {}, "What happened"), el("th", {}, "Where to look"))),
    el("tbody", {}));
  for (const finding of incident.findings) {
    const examples = finding.examples.slice(0, 3).map((e) => `${e.file}:${e.line}`).join(", ");
    const row = el("tr", { "data-kind": finding.kind },
      el("td", {}, kindBadge(finding.kind)),
      el("td", { class: "num score" }, finding.score.toFixed(1)),
      el("td", { class: "when" }, windowText(finding.start, finding.end)),
      el("td", { class: "explanation" }, finding.explanation),
      el("td", { class: "where-cell" }, el("span", { class: "sample examples" }, examples)));
    const template = finding.template_ids[0];
    if (template) {
      row.classList.add("pick");
      row.title = "Show the trend of its template";
      row.addEventListener("click", () => showTrendOf("template", template, finding.explanation));
    }
    table.tBodies[0].append(row);
  }
  body.append(el("h3", {}, "Findings"), table);
  if (incident.findings.length < incident.finding_count) {
    body.append(el("p", { class: "muted" },
      `${fmt(incident.finding_count - incident.findings.length)} more in the anomalies below`));
  }
  return body;
}

function renderIncidents(page) {
  const list = $("incidents");
  list.replaceChildren();
  $("incidents-prev").disabled = !page || incidentsPanel.offset === 0;
  $("incidents-next").disabled = !page || incidentsPanel.offset + INCIDENT_PAGE >= page.total;
  if (!page) {
    $("incidents-count").textContent = "";
    $("incidents-page").textContent = "";
    list.append(el("p", { class: "empty" }, "No answer (the message above says why)."));
    return;
  }
  const first = page.items.length ? page.offset + 1 : 0;
  $("incidents-count").textContent = `${fmt(page.total)}, highest score first`;
  $("incidents-page").textContent = `${fmt(first)}–${fmt(page.offset + page.items.length)} of ${fmt(page.total)}`;
  if (!page.items.length) {
    list.append(el("p", { class: "empty" }, "No incidents match these filters."));
  }
  for (const incident of page.items) {
    const item = el("details", { class: "incident", "data-incident": incident.incident_id },
      incidentSummary(incident));
    // The findings are built when first opened: a page of collapsed rows stays light.
    item.addEventListener("toggle", () => {
      if (item.open && item.children.length === 1) item.append(incidentBody(incident));
    });
    list.append(item);
  }
}

function startIncidents() {
  $("incidents-prev").addEventListener("click", () => {
    incidentsPanel.offset = Math.max(0, incidentsPanel.offset - INCIDENT_PAGE);
    loadIncidents();
  });
  $("incidents-next").addEventListener("click", () => {
    incidentsPanel.offset += INCIDENT_PAGE;
    loadIncidents();
  });
}
