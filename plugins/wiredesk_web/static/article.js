// One stored article: metadata, entities, attributed quotes and the extracted text.
"use strict";

function renderEntities(entities) {
  return (entities || []).slice(0, 40).map((e) =>
    `<span class="chip static" title="${wd.escape(e.label)} · ${e.count} mention(s)">${wd.escape(e.name)}
      <small>${wd.escape(e.label)}</small></span>`).join("");
}

function renderQuotes(quotes) {
  const attributed = (quotes || []).filter((q) => q.text);
  if (!attributed.length) return "";
  return "<h2>Quotes</h2>" + attributed.map((q) => `
    <blockquote class="quote-card"><p><strong class="speaker">${wd.escape(q.speaker || "unattributed")}</strong>
      — ${wd.quoted(q)}</p></blockquote>`).join("");
}

function renderText(text) {
  return String(text || "").split(/\n\s*\n/).filter((p) => p.trim())
    .map((p) => `<p>${wd.escape(p.trim())}</p>`).join("");
}

async function load() {
  const id = new URLSearchParams(location.search).get("id");
  if (!id) return wd.setStatus("No article id in the address.", true);
  try {
    const a = await wd.getJSON(`api/articles/${encodeURIComponent(id)}`);
    document.title = `${a.title || "Article"} · Wiredesk`;
    document.getElementById("title").textContent = a.title || a.url;
    const authors = (a.authors || []).length ? ` · ${wd.escape(a.authors.join(", "))}` : "";
    document.getElementById("meta").innerHTML = `${wd.escape(a.source || "")} · ${wd.day(a.published_at) || "undated"}${authors}
      · <a href="${wd.escape(a.url)}" rel="noreferrer">original article</a>`;
    document.getElementById("entities").innerHTML = renderEntities(a.entities);
    document.getElementById("article-quotes").innerHTML = renderQuotes(a.quotes);
    document.getElementById("text").innerHTML = renderText(a.text);
    document.getElementById("article").hidden = false;
    wd.setStatus("");
  } catch (error) {
    wd.setStatus(error.message, true);
  }
}

document.getElementById("back").addEventListener("click", (event) => {
  if (history.length > 1) {
    event.preventDefault();
    history.back();
  }
});
load();
