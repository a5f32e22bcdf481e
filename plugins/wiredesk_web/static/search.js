// The search page: query and filters live in the URL, so a search can be bookmarked and shared.
"use strict";

const FACETS = [
  ["sources", "source", "Sources"],
  ["people", "person", "People"],
  ["organizations", "organization", "Organizations"],
  ["places", "place", "Places"],
  ["speakers", "speaker", "Speakers"],
];
const FILTER_PARAMS = ["source", "person", "organization", "place", "speaker", "since", "until"];
const PAGE_SIZE = 20;
const MAX_HISTOGRAM_DAYS = 120;

let nextCursor = null;

function currentParams() {
  return new URLSearchParams(location.search);
}

function navigate(params) {
  history.pushState(null, "", "?" + params.toString());
  load();
}

function toggleFilter(param, value) {
  const params = currentParams();
  const values = params.getAll(param);
  params.delete(param);
  const next = values.includes(value) ? values.filter((v) => v !== value) : [...values, value];
  next.forEach((v) => params.append(param, v));
  navigate(params);
}

function setDay(day) {
  const params = currentParams();
  params.set("since", day);
  params.set("until", day);
  navigate(params);
}

function searchUrl(params, cursor) {
  const query = new URLSearchParams(params);
  if (!query.get("sort")) query.set("sort", query.get("q") ? "relevance" : "date");
  query.set("size", PAGE_SIZE);
  if (cursor) query.set("cursor", cursor);
  return "api/search?" + query.toString();
}

function cardsUrl(params) {
  const query = new URLSearchParams(params);
  query.delete("sort");
  return "api/quote-cards?" + query.toString();
}

function renderFacets(facets, params) {
  const html = FACETS.map(([key, param, label]) => {
    const active = params.getAll(param);
    const buckets = (facets[key] || []).slice();
    active.filter((v) => !buckets.some((b) => b.value === v)).forEach((v) => buckets.unshift({ value: v, count: 0 }));
    if (!buckets.length) return "";
    const items = buckets.map((b) => `
      <li><button type="button" class="facet" data-param="${param}" data-value="${wd.escape(b.value)}"
        aria-pressed="${active.includes(b.value)}" title="${wd.escape(b.value)}"><span class="name">${wd.escape(b.value)}</span>
        <span class="count">${b.count}</span></button></li>`).join("");
    return `<section class="facet-group" data-facet="${key}"><h3>${label}</h3><ul>${items}</ul></section>`;
  }).join("");
  document.getElementById("facets").innerHTML = html || '<p class="muted">No filters for this search.</p>';
}

function renderActiveFilters(params) {
  const chips = FILTER_PARAMS.flatMap((param) => params.getAll(param).map((value) => `
    <button type="button" class="chip" data-param="${param}" data-value="${wd.escape(value)}"
      title="Remove this filter">${param}: ${wd.escape(value)} <span aria-hidden="true">×</span></button>`));
  document.getElementById("active-filters").innerHTML = chips.join("");
}

function allDays(days) {
  if (days.length < 2) return days;
  const counts = new Map(days.map((d) => [d.date, d.count]));
  const out = [];
  const end = new Date(days[days.length - 1].date + "T00:00:00Z");
  for (let d = new Date(days[0].date + "T00:00:00Z"); d <= end && out.length < MAX_HISTOGRAM_DAYS; d.setUTCDate(d.getUTCDate() + 1)) {
    const key = d.toISOString().slice(0, 10);
    out.push({ date: key, count: counts.get(key) || 0 });
  }
  return out;
}

function renderHistogram(days) {
  const figure = document.getElementById("histogram");
  const filled = allDays(days || []);
  figure.hidden = filled.length === 0;
  const max = Math.max(1, ...filled.map((d) => d.count));
  figure.querySelector(".bars").innerHTML = filled.map((d) => `
    <button type="button" class="day" data-day="${d.date}" title="${d.date}: ${d.count} article${d.count === 1 ? "" : "s"}"
      style="--h:${Math.round((d.count / max) * 100)}%"><span class="n">${d.count || ""}</span><span class="fill"></span>
      <span class="label">${d.date.slice(5)}</span></button>`).join("");
}

function snippet(hit) {
  const fragments = (hit.highlight && hit.highlight.text) || [];
  if (fragments.length) return fragments.map(wd.marked).join(" … ");
  return wd.escape((hit.summary || "").slice(0, 300));
}

function renderHit(hit) {
  const title = hit.highlight && hit.highlight.title ? wd.marked(hit.highlight.title[0]) : wd.escape(hit.title || hit.url);
  const original = hit.url ? ` · <a href="${wd.escape(hit.url)}" rel="noreferrer">original</a>` : "";
  return `<li class="hit">
    <a class="title" href="article?id=${encodeURIComponent(hit.id)}">${title}</a>
    <div class="meta"><span class="source">${wd.escape(hit.source || "unknown source")}</span>
      · <time datetime="${wd.escape(hit.published_at || "")}">${wd.day(hit.published_at) || "undated"}</time>${original}</div>
    <p class="snippet">${snippet(hit)}</p></li>`;
}

function renderCards(result) {
  const box = document.getElementById("quote-cards");
  if (!result.cards.length) {
    box.innerHTML = '<p class="muted">No attributed quotes in these articles.</p>';
    return;
  }
  box.innerHTML = result.cards.map((c) => `
    <blockquote class="quote-card">
      <p><strong class="speaker">${wd.escape(c.speaker)}</strong> — ${wd.quoted(c)}</p>
      <footer><a href="article?id=${encodeURIComponent(c.article.id)}">${wd.escape(c.article.title || c.article.url)}</a>
        <span class="meta">${wd.escape(c.article.source || "")} · ${wd.day(c.article.published_at)}</span></footer>
    </blockquote>`).join("");
}

async function loadMore() {
  const result = await wd.getJSON(searchUrl(currentParams(), nextCursor));
  document.getElementById("results").insertAdjacentHTML("beforeend", result.hits.map(renderHit).join(""));
  showMore(result.next_cursor);
}

function showMore(cursor) {
  nextCursor = cursor;
  document.getElementById("more").hidden = !cursor;
}

async function load() {
  const params = currentParams();
  document.getElementById("q").value = params.get("q") || "";
  document.getElementById("sort").value = params.get("sort") || "";
  renderActiveFilters(params);
  wd.setStatus("Searching…");
  document.body.classList.add("loading");
  try {
    const [result, cards] = await Promise.all([wd.getJSON(searchUrl(params)), wd.getJSON(cardsUrl(params))]);
    const shown = result.total === 1 ? "1 article" : `${result.total} articles`;
    wd.setStatus(`${shown}${params.get("q") ? ` for “${params.get("q")}”` : ""} · ${result.took_ms ?? "?"} ms`);
    renderFacets(result.facets || {}, params);
    renderHistogram((result.facets || {}).days);
    document.getElementById("results").innerHTML = result.hits.map(renderHit).join("");
    showMore(result.next_cursor);
    renderCards(cards);
  } catch (error) {
    wd.setStatus(error.message, true);
  } finally {
    document.body.classList.remove("loading");
  }
}

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const params = currentParams();
  params.set("q", document.getElementById("q").value.trim());
  const sort = document.getElementById("sort").value;
  sort ? params.set("sort", sort) : params.delete("sort");
  navigate(params);
});

document.addEventListener("click", (event) => {
  const target = event.target.closest("[data-param], [data-day], #more");
  if (!target) return;
  if (target.id === "more") loadMore().catch((error) => wd.setStatus(error.message, true));
  else if (target.dataset.day) setDay(target.dataset.day);
  else toggleFilter(target.dataset.param, target.dataset.value);
});

window.addEventListener("popstate", load);
load();
