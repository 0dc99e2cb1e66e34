// loglens dashboard: the live view. With "Follow new results" on, it reads GET
// /stream/events (server-sent events) and, as results are stored, lists the new incidents
// and alerts and reloads the panels (at most every RELOAD_MS), so the page follows the
// database without a reload. The stream is read with fetch: EventSource cannot send the
// bearer token. A dropped stream is opened again after RETRY_MS while the box is ticked.

const RELOAD_MS = 2000;
const RETRY_MS = 5000;
const LIVE_ITEMS = 20;
const live = { controller: null, retry: null, reload: null, lastReload: 0 };

function startLive() {
  $("live-toggle").addEventListener("change", () => {
    if ($("live-toggle").checked) openLive();
    else closeLive("off");
  });
}

function closeLive(why) {
  clearTimeout(live.retry);
  if (live.controller) live.controller.abort();
  live.controller = null;
  $("live-status").textContent = why;
}

async function openLive() {
  closeLive("connecting…");
  const controller = new AbortController();
  live.controller = controller;
  try {
    const response = await fetch("/stream/events?interval=1", {
      headers: { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}` },
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      throw new Error(typeof body.detail === "string" ? body.detail : response.statusText);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        onLiveEvent(parseEvent(buffer.slice(0, cut)));
        buffer = buffer.slice(cut + 2);
      }
    }
    throw new Error("the stream ended");
  } catch (error) {
    if (controller.signal.aborted) return;
    $("live-status").textContent = `disconnected (${error.message}); trying again in ${RETRY_MS / 1000} s`;
    live.retry = setTimeout(() => { if ($("live-toggle").checked) openLive(); }, RETRY_MS);
  }
}

function parseEvent(text) {
  const fields = {};
  for (const line of text.split("\n")) {
    if (line.startsWith(":")) continue; // a keepalive comment
    const colon = line.indexOf(": ");
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 2);
  }
  return fields;
}

function onLiveEvent(fields) {
  if (!fields.event) return;
  const data = JSON.parse(fields.data || "{}");
  const now = new Date().toISOString().slice(11, 19);
  if (fields.event === "hello" || fields.event === "counts") {
    const added = Object.entries(data.added || {})
      .filter(([, n]) => n > 0).map(([level, n]) => `+${fmt(n)} ${level}`).join(", ");
    $("live-status").textContent = `following: ${fmt(data.entries)} entries in ${fmt(data.uploads)} uploads`
      + (added ? `; at ${now} UTC ${added}` : "");
    if (fields.event === "counts") scheduleReload();
  } else if (fields.event === "incident") {
    addLiveItem(now, "incident", `${data.title} (score ${data.score}) in ${data.original_name}, `
      + `${shortTime(data.start)} – ${shortTime(data.end)}`);
  } else if (fields.event === "alert") {
    addLiveItem(now, `alert ${data.state}`, `${data.rule}: ${data.message}`);
  }
}

function addLiveItem(now, kind, text) {
  const list = $("live-events");
  list.prepend(el("li", { class: kind.replace(" ", "-") },
    el("span", { class: "where" }, `${now} UTC`), " ", el("strong", {}, kind), " ", text));
  while (list.children.length > LIVE_ITEMS) list.lastChild.remove();
}

function scheduleReload() {
  clearTimeout(live.reload);
  const wait = Math.max(0, live.lastReload + RELOAD_MS - Date.now());
  live.reload = setTimeout(() => { live.lastReload = Date.now(); load(); }, wait);
}
