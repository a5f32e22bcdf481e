// Helpers shared by the Wiredesk pages: safe HTML, dates, and API calls that carry the Airflow login.
"use strict";

const wd = {
  escape(text) {
    return String(text ?? "").replace(/[&<>"']/g, (c) =>
      ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  },

  // Elasticsearch highlights wrap matches in <mark>; everything else in them is article text.
  marked(fragment) {
    return wd.escape(fragment).replace(/&lt;(\/?)mark&gt;/g, "<$1mark>");
  },

  // Direct words in quotation marks; reported (indirect) speech without, so a paraphrase never reads as a quote.
  quoted(quote) {
    return quote.kind === "indirect" ? `<span class="reported">${wd.escape(quote.text)}</span>` : `“${wd.escape(quote.text)}”`;
  },

  day(iso) {
    return iso ? String(iso).slice(0, 10) : "";
  },

  when(iso) {
    if (!iso) return "never";
    const date = new Date(iso);
    return isNaN(date) ? String(iso) : date.toISOString().slice(0, 16).replace("T", " ") + " UTC";
  },

  // Same origin as the Airflow UI: the browser sends the HTTP-only `_token` login cookie itself.
  async getJSON(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.status === 401) throw new Error("Your Airflow session has ended: reload the page to log in again.");
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(wd.describeError(response.status, body));
    return body;
  },

  describeError(status, body) {
    const detail = body.detail;
    if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(-1)[0]}: ${d.msg}`).join("; ");
    return `${status === 503 ? "Search is unavailable" : "Request failed"} (${status}): ${detail || "no detail"}`;
  },

  setStatus(text, isError = false) {
    const status = document.getElementById("status");
    status.textContent = text;
    status.classList.toggle("error", isError);
  },
};
