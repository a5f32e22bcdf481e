// The feed-health page: every feed's health (failing, silent, slow, ok) and the items by status.
"use strict";

const HEALTH_ORDER = ["failing", "silent", "slow", "never_polled", "disabled", "ok"];

function renderSummary(report) {
  const health = HEALTH_ORDER.filter((h) => report.by_health[h])
    .map((h) => `<span class="badge ${h}">${h.replace("_", " ")}: ${report.by_health[h]}</span>`);
  const items = Object.entries(report.items || {}).map(([status, n]) => `<span class="badge item">${wd.escape(status)}: ${n}</span>`);
  document.getElementById("summary").innerHTML = `
    <p><strong>Feeds</strong> ${health.join(" ") || '<span class="muted">none registered yet</span>'}</p>
    <p><strong>Articles</strong> ${items.join(" ") || '<span class="muted">none yet</span>'}
      <span class="muted">· ${report.retry_due} failed item(s) due for a retry</span></p>`;
}

function renderRow(feed) {
  return `<tr class="${feed.health}">
    <td><div>${wd.escape(feed.name || "(unnamed)")}</div><div class="muted url">${wd.escape(feed.url)}</div></td>
    <td><span class="badge ${feed.health}">${feed.health.replace("_", " ")}</span></td>
    <td class="num">${feed.consecutive_failures ?? 0}</td>
    <td>${wd.escape(feed.last_status ?? "")}</td>
    <td>${wd.when(feed.last_poll_at)}</td>
    <td class="error-text">${wd.escape(feed.error || "")}</td></tr>`;
}

async function load() {
  const hours = document.getElementById("silent").value || 24;
  wd.setStatus("Loading…");
  try {
    const report = await wd.getJSON(`api/feeds?silent_hours=${encodeURIComponent(hours)}`);
    renderSummary(report);
    const table = document.getElementById("feeds");
    table.querySelector("tbody").innerHTML = report.feeds.map(renderRow).join("");
    table.hidden = report.feeds.length === 0;
    wd.setStatus(`${report.feeds.length} feed(s); silent means nothing new for ${report.silent_hours} hours.`);
  } catch (error) {
    wd.setStatus(error.message, true);
  }
}

document.getElementById("health-form").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
load();
