// loglens dashboard: the Alerts panel, GET /alerts (firing and resolved, newest first) with
// each alert's webhook delivery. Alerts belong to sources (file names), not to the filters.
"use strict";

const ALERT_LIMIT = 50;
const STATE_COLORS = { firing: "#b42318", resolved: "#1f9d6a" };

const alertsPanel = {
  id: "alerts-panel", generation: 0,
  clear() { renderAlerts(null, null); },
};

function loadAlerts() {
  const params = { state: $("al-state").value, source: $("al-source").value.trim() };
  return runPanel(alertsPanel, async (current) => {
    const [page, firing] = await Promise.all([
      api("/alerts", { ...params, limit: ALERT_LIMIT }),
      api("/alerts", { source: params.source, state: "firing", limit: 1 }),
    ]);
    if (current()) renderAlerts(page, firing.total);
  });
}

function deliveryText(alert) {
  if (alert.delivery === "off") return "no webhook";
  if (alert.delivery === "delivered") return `delivered (${alert.delivered})`;
  const tries = `${alert.attempts} attempt${alert.attempts === 1 ? "" : "s"}`;
  const next = alert.next_attempt_at ? `, next ${shortTime(alert.next_attempt_at)}` : "";
  return `pending (${tries}${next})`;
}

function renderAlerts(page, firing) {
  const body = $("alerts").tBodies[0];
  body.replaceChildren();
  const count = $("alerts-count");
  if (!page) {
    count.textContent = "";
    body.append(el("tr", {}, el("td", { colspan: "7", class: "empty" }, "No answer (the message above says why).")));
    return;
  }
  count.textContent = `${fmt(firing)} firing · ${fmt(page.total)} listed${page.total > page.alerts.length
    ? ` (the newest ${page.alerts.length})` : ""}, newest first`;
  count.classList.toggle("alarm", firing > 0);
  if (!page.alerts.length) {
    body.append(el("tr", {}, el("td", { colspan: "7", class: "empty" }, "No alerts.")));
  }
  for (const alert of page.alerts) {
    const badge = el("span", { class: "badge" }, alert.state);
    badge.style.background = STATE_COLORS[alert.state];
    const upload = alert.upload_id ? `upload #${alert.upload_id}` : "";
    const resolved = alert.resolved_at ? `resolved ${shortTime(alert.resolved_at)}` : "still firing";
    body.append(el("tr", { "data-alert-id": String(alert.id), "data-state": alert.state, "data-rule": alert.rule },
      el("td", {}, badge),
      el("td", { class: "rule" }, alert.rule, el("span", { class: "where" }, alert.kind)),
      el("td", {}, alert.source, el("span", { class: "where" }, upload)),
      el("td", { class: "when" }, windowText(alert.window_start, alert.window_end)),
      el("td", { class: "message-text" }, alert.message),
      el("td", { class: `delivery ${alert.delivery}` }, deliveryText(alert),
        el("span", { class: "where" }, alert.delivery_error || "")),
      el("td", { class: "when" }, `fired ${shortTime(alert.fired_at)}`, el("span", { class: "where" }, resolved))));
  }
}

function fillAlertSources(uploads) {
  const list = $("sources");
  list.replaceChildren();
  for (const name of [...new Set(uploads.map((u) => u.original_name))].sort()) {
    list.append(el("option", { value: name }));
  }
}

function startAlerts() {
  $("al-state").addEventListener("change", loadAlerts);
  $("al-source").addEventListener("change", loadAlerts);
}
