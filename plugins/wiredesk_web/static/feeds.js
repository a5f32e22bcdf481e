// The feed-health page: every feed's health (pipeline.feeds.health.health_of, the labels of `wiredesk feeds list`),
// the items by status and the recent runs.
"use strict";

const HEALTH_ORDER = ["unhealthy", "failing", "silent", "slow", "never_polled", "disabled", "ok"];

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

function count(value) {
  return `<td class="num">${value ?? ""}</td>`;
}

function renderReasons(run) {
  const reasons = Object.entries(run.failed_by_reason || {}).sort((a, b) => b[1] - a[1])
    .map(([reason, n]) => `<span class="badge failing">${wd.escape(reason)}: ${n}</span>`);
  const feeds = (run.feeds_failing || []).length ? `<div class="muted">${wd.escape(run.feeds_failing.join(", "))}</div>` : "";
  return reasons.join(" ") + feeds;
}

// The run's page in the Airflow UI; _top leaves the iframe the plugin page is shown in.
function runLink(run) {
  if (run.dag_id === "crawl") {  // `wiredesk crawl --once`: no Airflow run to open
    return `<span class="muted" title="${wd.escape(run.run_id)}">wiredesk crawl</span>`;
  }
  const href = `/dags/${encodeURIComponent(run.dag_id)}/runs/${encodeURIComponent(run.run_id)}`;
  return `<a href="${href}" target="_top" title="${wd.escape(run.run_id)}">open run</a>`;
}

function renderRun(run) {
  const c = run.counts || {};
  return `<tr class="${c.failed ? "failing" : "ok"}">
    <td>${wd.when(run.finished_at)}</td>
    <td><div>${wd.escape(run.dag_id)}</div><div class="muted">${wd.escape(run.kind)}</div></td>
    ${count(c.new)}${count(c.claimed)}${count(c.fetched)}${count(c.extracted)}${count(c.enriched)}${count(c.indexed)}${count(c.failed)}
    <td>${renderReasons(run)}</td><td>${runLink(run)}</td></tr>`;
}

async function loadRuns() {
  const status = document.getElementById("runs-status");
  try {
    const { runs } = await wd.getJSON("api/runs?limit=20");
    const table = document.getElementById("runs");
    table.querySelector("tbody").innerHTML = runs.map(renderRun).join("");
    table.hidden = runs.length === 0;
    status.textContent = runs.length ? `The latest ${runs.length} poll and ingest run(s), newest first.` : "No runs recorded yet.";
  } catch (error) {
    status.textContent = error.message;
  }
}

document.getElementById("health-form").addEventListener("submit", (event) => {
  event.preventDefault();
  load();
  loadRuns();
});
load();
loadRuns();
