"""Elasticsearch templates, versioned indices, aliases and idempotent bulk writes.

Layout per kind (``articles``, ``feeds``): a composable index template matching
``<prefix>-<kind>-v*``, a versioned index ``<prefix>-<kind>-v<N>`` and the alias
``<prefix>-<kind>`` (the write index) that every reader and writer uses. ``wiredesk index migrate``
creates ``v<N+1>`` from the current template, copies the documents, checks the counts and moves
the alias in one atomic action, so search keeps answering throughout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Iterable, Iterator

from pipeline.documents import FACET_FIELDS, article_id, prepare_article, rejection_update
from pipeline.errors import PermanentError, Reason, RetryableError
from pipeline.esclient import connect, es_boundary, map_es_errors
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)

KINDS = ("articles", "feeds")
TEXT_ANALYZER = "wd_text"
RETRY_STATUSES = (429, 502, 503, 504)
# Filters the English chain needs; all come from the analysis-common module.
ENGLISH_FILTERS = {
    "wd_english_possessive": {"type": "stemmer", "language": "possessive_english"},
    "wd_english_stop": {"type": "stop", "stopwords": "_english_"},
    "wd_english_stemmer": {"type": "stemmer", "language": "english"},
}


# -- cluster -----------------------------------------------------------------------------------


def cluster_info(es) -> dict:
    """Version and health; ``GET /`` is not allowed on every distribution, so ask the local node."""
    nodes = es.nodes.info(node_id="_local", metric="_none").body.get("nodes", {})
    node = next(iter(nodes.values()), {})
    if "version" not in node:  # metric=_none still returns version; older servers may not
        nodes = es.nodes.info(node_id="_local").body.get("nodes", {})
        node = next(iter(nodes.values()), {})
    health = es.cluster.health().body
    return {"version": node.get("version"), "status": health.get("status"), "cluster_name": health.get("cluster_name")}


def has_english_analysis(es) -> bool:
    """True when the cluster has the English analysis chain (analysis-common module)."""
    from elasticsearch import ApiError

    chain = [*ENGLISH_FILTERS.values(), "lowercase", "asciifolding"]
    try:
        es.indices.analyze(tokenizer="standard", filter=chain, text="The editor's cafés were running")
    except ApiError as exc:
        if exc.status_code == 400:
            return False
        raise
    return True


# -- templates -------------------------------------------------------------------------------


def build_analysis(english: bool) -> dict:
    """Index analysis settings: the English chain when available, the standard analyzer otherwise."""
    if not english:
        return {"analyzer": {TEXT_ANALYZER: {"type": "standard", "stopwords": "_english_"}}}
    chain = ["wd_english_possessive", "lowercase", "asciifolding", "wd_english_stop", "wd_english_stemmer"]
    return {
        "filter": dict(ENGLISH_FILTERS),
        "analyzer": {TEXT_ANALYZER: {"type": "custom", "tokenizer": "standard", "filter": chain}},
    }


def text_field(keyword: bool = True, ignore_above: int = 512) -> dict:
    """An analysed text field, with a ``.keyword`` sub-field for exact filters and sorting."""
    spec: dict[str, Any] = {"type": "text", "analyzer": TEXT_ANALYZER}
    if keyword:
        spec["fields"] = {"keyword": {"type": "keyword", "ignore_above": ignore_above}}
    return spec


def keyword_field(text: bool = False) -> dict:
    """A keyword field, optionally with an analysed ``.text`` sub-field for matching by words."""
    spec: dict[str, Any] = {"type": "keyword", "ignore_above": 1024}
    if text:
        spec["fields"] = {"text": {"type": "text", "analyzer": TEXT_ANALYZER}}
    return spec


def error_field() -> dict:
    """The recorded error of an item: short reason code and message."""
    return {
        "properties": {
            "reason": {"type": "keyword"},
            "message": {"type": "text", "analyzer": TEXT_ANALYZER},
            "retryable": {"type": "boolean"},
            "status": {"type": "keyword"},
        }
    }


def nested_entities() -> dict:
    """Entities as nested objects: name, label, count and aliases stay together per entity."""
    return {
        "type": "nested",
        "dynamic": False,
        "properties": {
            "name": keyword_field(text=True),
            "label": {"type": "keyword"},
            "count": {"type": "integer"},
            "aliases": keyword_field(text=True),
        },
    }


def nested_quotes() -> dict:
    """Quotes as nested objects, so "text by speaker" matches within one quote."""
    kw, num = {"type": "keyword"}, {"type": "integer"}
    return {
        "type": "nested",
        "dynamic": False,
        "properties": {
            "text": text_field(keyword=False),
            "speaker": keyword_field(text=True),
            **{name: kw for name in ("speaker_label", "cue", "kind")},
            **{name: num for name in ("position", "start", "end")},
        },
    }


def build_articles_mappings() -> dict:
    """Article mapping (DESIGN.md): ``dynamic: false`` keeps junk in _source but out of the mapping."""
    kw, date = {"type": "keyword"}, {"type": "date"}
    props: dict[str, Any] = {
        **{name: kw for name in ("url", "canonical_url", "feed", "source", "language", "guid")},
        **{name: kw for name in ("status", "claimed_by", "raw_path", "pipeline_version")},
        **{name: kw for name in ("fingerprint", "fingerprint_bands", "duplicate_group", "tags", "site_name")},
        **{name: kw for name in ("final_url", "page_canonical_url")},
        **{name: kw for name in ("fingerprint_bands", "tags")},  # near-duplicate candidates (ingest), feed tags
        # Flat facet arrays; the .text sub-field lets "Momani" filter "Marwan Momani".
        **{name: keyword_field(text=True) for name in FACET_FIELDS},
        "title": text_field(),
        "summary": text_field(keyword=False),
        "text": text_field(keyword=False),
        "authors": keyword_field(text=True),
        "word_count": {"type": "integer"},
        "image": {"type": "keyword", "index": False, "doc_values": False},
        "attempts": {"type": "integer"},
        "error": error_field(),
        "entities": nested_entities(),
        "quotes": nested_quotes(),
    }
    dates = ("published_at", "modified_at", "fetched_at", "discovered_at", "claimed_at", "next_attempt_at")
    for name in (*dates, "updated_at"):
        props[name] = date
    return {"dynamic": False, "properties": props}


def build_feeds_mappings() -> dict:
    """Feed state mapping: one document per feed."""
    kw, date, num = {"type": "keyword"}, {"type": "date"}, {"type": "integer"}
    props: dict[str, Any] = {
        **{name: kw for name in ("url", "name", "source", "language", "etag", "last_modified", "last_status")},
        **{name: kw for name in ("health", "site_url", "kind", "config_url", "moved_from", "disabled_reason")},
        **{name: {"type": "float"} for name in ("interval_minutes", "ttl_minutes", "last_duration")},
        "http_status": num,
        "title": text_field(),
        "enabled": {"type": "boolean"},
        "consecutive_failures": num,
        "error": error_field(),
        "counts": {"type": "object", "dynamic": False, "properties": {k: num for k in ("seen", "new", "errors")}},
    }
    for name in ("last_poll_at", "last_success_at", "last_new_at", "next_poll_at", "updated_at"):
        props[name] = date
    return {"dynamic": False, "properties": props}


def build_template(settings: Settings, kind: str, english: bool) -> dict:
    """Body of the composable index template for one kind (pure: no cluster access)."""
    mappings = build_articles_mappings() if kind == "articles" else build_feeds_mappings()
    return {
        "index_patterns": [f"{settings.index_prefix}-{kind}-v*"],
        "priority": 200,  # above the built-in templates
        "template": {
            # One shard suits a news desk's volume; a replica appears as soon as a second node joins.
            "settings": {"number_of_shards": 1, "auto_expand_replicas": "0-1", "analysis": build_analysis(english)},
            "mappings": mappings,
        },
        "_meta": {"managed_by": "wiredesk", "english_analysis": english},
    }


# -- indices and aliases ---------------------------------------------------------------------


def alias_name(settings: Settings, kind: str) -> str:
    """The alias readers and writers use for a kind."""
    return settings.articles_alias if kind == "articles" else settings.feeds_alias


def index_name(settings: Settings, kind: str, version: int) -> str:
    """The concrete versioned index behind an alias."""
    return f"{settings.index_prefix}-{kind}-v{version}"


def put_template(es, settings: Settings, kind: str, english: bool) -> None:
    """Create or overwrite the index template (idempotent)."""
    body = build_template(settings, kind, english)
    es.indices.put_index_template(name=f"{settings.index_prefix}-{kind}", **body)


def current_index(es, settings: Settings, kind: str) -> str | None:
    """The index the alias writes to, or None when the alias does not exist yet."""
    from elasticsearch import NotFoundError

    try:
        found = es.indices.get_alias(name=alias_name(settings, kind)).body
    except NotFoundError:
        return None
    names = sorted(found, key=lambda n: (len(n), n))  # numeric order of versions: v2 before v10
    for name in names:
        spec = found[name].get("aliases", {}).get(alias_name(settings, kind), {})
        if spec.get("is_write_index"):
            return name
    return names[-1] if names else None


def create_index(es, index: str, alias: str | None = None) -> bool:
    """Create an index (optionally with its write alias); False when it already exists."""
    from elasticsearch import BadRequestError

    aliases = {alias: {"is_write_index": True}} if alias else None
    try:
        es.indices.create(index=index, aliases=aliases)
    except BadRequestError as exc:
        if exc.error == "resource_already_exists_exception":
            return False
        raise
    return True


@es_boundary
def ensure_indices(es, settings: Settings, *, if_missing: bool = False) -> dict[str, str]:
    """Idempotently create templates, the first versioned indices, their aliases and the runs index.

    ``if_missing`` (the start of a run) first asks, in one cheap read, whether all of them exist and
    then changes nothing ({} is returned); ``wiredesk index setup`` updates templates and mappings.
    """
    from pipeline.runs import ensure_runs_index, runs_index

    names = [alias_name(settings, kind) for kind in KINDS] + [runs_index(settings)]
    # Putting templates and mappings is a cluster-state update: slow on a busy cluster, so ask first.
    if if_missing and es.indices.exists(index=names):
        return {}
    english = has_english_analysis(es)
    result = {}
    for kind in KINDS:
        put_template(es, settings, kind, english)
        current = current_index(es, settings, kind)
        if current is None:
            current = index_name(settings, kind, 1)
            # Index and alias are created in one request, so a concurrent caller either
            # creates both or gets resource_already_exists (the other caller created both).
            if create_index(es, current, alias_name(settings, kind)):
                LOGGER.info("created %s with alias %s", current, alias_name(settings, kind))
        else:
            update_mapping(es, current, build_template(settings, kind, english)["template"]["mappings"])
        result[kind] = current
    ensure_runs_index(es, settings)  # one small plain index of run records (the Feed Health page reads it)
    es.cluster.health(index=list(result.values()), wait_for_status="yellow", timeout="30s")
    return result


def update_mapping(es, index: str, mappings: dict) -> None:
    """Add new fields to an existing index; a changed field type needs ``wiredesk index migrate``."""
    from elasticsearch import BadRequestError

    try:
        es.indices.put_mapping(index=index, **mappings)
    except BadRequestError as exc:
        LOGGER.warning("mapping of %s differs from the template (%s): run `wiredesk index migrate`", index, exc.message)


@es_boundary
def delete_indices(es, settings: Settings) -> None:
    """Remove every index and template of this prefix (tests and benchmarks clean up with it)."""
    for kind in KINDS:
        # Wildcard deletes are refused (action.destructive_requires_name): resolve names first.
        names = list(es.indices.get(index=f"{settings.index_prefix}-{kind}-v*", allow_no_indices=True).body)
        if names:
            es.indices.delete(index=names, ignore_unavailable=True)
        es.options(ignore_status=404).indices.delete_index_template(name=f"{settings.index_prefix}-{kind}")
    es.indices.delete(index=f"{settings.index_prefix}-runs", ignore_unavailable=True)


def now_iso() -> str:
    """The current UTC time as an ISO-8601 string."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# -- bulk writes -----------------------------------------------------------------------------


@dataclass
class BulkResult:
    """Outcome of a bulk write: how many landed, and every failed item with status and reason."""

    succeeded: int = 0
    failures: list[dict] = field(default_factory=list)

    @property
    def failed(self) -> int:
        """Number of items that did not land."""
        return len(self.failures)

    def merge(self, other: "BulkResult") -> "BulkResult":
        """Both results together."""
        return BulkResult(self.succeeded + other.succeeded, self.failures + other.failures)


class BulkWriteError(RetryableError):
    """Elasticsearch went away during a bulk write; ``partial`` holds what landed (or failed) before.

    Writes are idempotent: the caller (a task retry) sends the whole batch again.
    """

    def __init__(self, message: str, partial: BulkResult):
        super().__init__(message, reason=Reason.ES_UNAVAILABLE)
        self.partial = partial


def describe_failure(info: dict) -> dict:
    """One failed bulk item as ``{_id, status, reason, message}``."""
    error = info.get("error")
    if isinstance(error, dict):
        reason, message = error.get("type", "error"), error.get("reason", "")
        if error.get("caused_by", {}).get("reason"):
            message = f"{message}: {error['caused_by']['reason']}"
    else:
        reason, message = "request_failed", str(error or "")
    return {"_id": info.get("_id"), "status": info.get("status", 500), "reason": reason, "message": message[:1000]}


def stream_bulk(es, settings: Settings, actions: Iterable[dict], refresh: bool) -> BulkResult:
    """One ``streaming_bulk`` pass: chunked by count and bytes, 429/5xx retried with backoff."""
    from elasticsearch.helpers import streaming_bulk

    result = BulkResult()
    extra = {"refresh": "wait_for"} if refresh else {}
    stream = streaming_bulk(
        es,
        actions,
        chunk_size=settings.bulk_chunk_docs,
        max_chunk_bytes=settings.bulk_chunk_bytes,
        raise_on_error=False,
        raise_on_exception=False,  # whole-request 429/503 become per-item failures, then retried
        max_retries=settings.bulk_max_retries,
        initial_backoff=settings.bulk_initial_backoff,
        max_backoff=30,
        retry_on_status=RETRY_STATUSES,
        **extra,
    )
    try:
        with map_es_errors(settings):
            for ok, item in stream:
                info = next(iter(item.values()))
                if ok:
                    result.succeeded += 1
                else:
                    result.failures.append(describe_failure(info))
    except RetryableError as exc:
        raise BulkWriteError(f"bulk write stopped: {exc}", result) from exc
    return result


def batched(actions: Iterable[dict], size: int) -> Iterator[list[dict]]:
    """Lists of up to ``size`` actions."""
    batch: list[dict] = []
    for action in actions:
        batch.append(action)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@es_boundary
def bulk_write(es, settings: Settings, actions: Iterable[dict], *, refresh: bool = False) -> BulkResult:
    """Write actions with ``settings.bulk_workers`` concurrent streaming_bulk passes; every failure reported."""
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    if settings.bulk_workers <= 1:
        result = stream_bulk(es, settings, actions, refresh)
    else:
        # Concurrent requests keep the client's serialising and the node's indexing overlapped.
        result, errors, pending = BulkResult(), [], set()
        with ThreadPoolExecutor(settings.bulk_workers, thread_name_prefix="bulk") as pool:
            for batch in batched(actions, settings.bulk_chunk_docs):
                if len(pending) >= 2 * settings.bulk_workers:  # bounded: never the whole input in memory
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    result = collect(done, result, errors)
                pending.add(pool.submit(stream_bulk, es, settings, batch, refresh))
            result = collect(wait(pending).done, result, errors)
        if errors:
            raise BulkWriteError(str(errors[0]), result) from errors[0]
    for failure in result.failures:
        LOGGER.warning("bulk item %s failed: %s %s", failure["_id"], failure["status"], failure["reason"])
    return result


def collect(done, result: BulkResult, errors: list) -> BulkResult:
    """Merge finished bulk passes into ``result``; their BulkWriteErrors go to ``errors``."""
    for future in done:
        try:
            result = result.merge(future.result())
        except BulkWriteError as exc:
            errors.append(exc)
            result = result.merge(exc.partial)
    return result


def index_actions(alias: str, docs: Iterable[dict], rejected: list[dict]) -> Iterator[dict]:
    """Bulk ``index`` actions for whole article documents; documents without an id go to ``rejected``."""
    stamp = now_iso()
    for doc in docs:
        try:
            _id = article_id(doc)
        except PermanentError as exc:
            rejected.append({"_id": None, "status": 400, "reason": exc.reason, "message": str(exc)})
            continue
        source = {k: v for k, v in doc.items() if k != "_id"}
        source.setdefault("updated_at", stamp)
        yield {"_op_type": "index", "_index": alias, "_id": _id, "_source": source}


@es_boundary
def index_articles(es, settings: Settings, docs: Iterable[dict], *, refresh: bool = False) -> BulkResult:
    """Index whole article documents by canonical-URL id; rejected items are recorded as failed."""
    docs = [prepare_article(doc) for doc in docs]
    rejected: list[dict] = []
    alias = settings.articles_alias
    result = bulk_write(es, settings, index_actions(alias, docs, rejected), refresh=refresh)
    result.failures.extend(rejected)
    record_rejections(es, settings, docs, result.failures, refresh)
    return result


def record_rejections(es, settings: Settings, docs: list[dict], failures: list[dict], refresh: bool) -> None:
    """Record each document Elasticsearch rejected for good on the document itself (released, failed)."""
    permanent = [f for f in failures if f["status"] not in RETRY_STATUSES and f["_id"]]
    if not permanent:
        return
    by_id = {article_id(d): d for d in docs if d.get("canonical_url") or d.get("url") or d.get("_id")}
    now = datetime.now(UTC)
    updates = {f["_id"]: rejection_update(by_id[f["_id"]], f, now) for f in permanent if f["_id"] in by_id}
    update_documents(es, settings, settings.articles_alias, updates, refresh=refresh)


@es_boundary
def update_documents(es, settings: Settings, alias: str, updates: dict[str, dict], *, refresh: bool = False) -> BulkResult:
    """Partial updates (``doc_as_upsert``) by id, e.g. pipeline status changes."""
    stamp = now_iso()
    actions = (
        {"_op_type": "update", "_index": alias, "_id": _id, "doc": {"updated_at": stamp, **doc}, "doc_as_upsert": True}
        for _id, doc in updates.items()
    )
    return bulk_write(es, settings, actions, refresh=refresh)


# -- migration -------------------------------------------------------------------------------


def index_version(index: str) -> int:
    """The version number at the end of a versioned index name (``...-v3`` -> 3)."""
    try:
        return int(index.rsplit("-v", 1)[1])
    except (IndexError, ValueError) as exc:
        raise PermanentError(f"not a versioned index: {index}", reason=Reason.BAD_INDEX_NAME) from exc


def cluster_modules(es) -> set[str]:
    """Names of the modules every node has (the core-only distribution lacks reindex, analysis-common)."""
    nodes = es.nodes.info(filter_path="nodes.*.modules.name").body.get("nodes", {})
    names = [{m["name"] for m in node.get("modules", [])} for node in nodes.values()]
    return set.intersection(*names) if names else set()


def copy_documents(es, settings: Settings, source: str, target: str) -> None:
    """Copy every document: the server ``_reindex`` where the cluster has it, else scan + bulk."""
    from elasticsearch import helpers

    if "reindex" in cluster_modules(es):
        es.options(request_timeout=3600).reindex(
            source={"index": source}, dest={"index": target}, wait_for_completion=True, refresh=True
        )
        return
    LOGGER.info("no reindex module on this cluster: copying %s -> %s with scan + bulk", source, target)
    # helpers.reindex probes the data-stream API, which this distribution lacks, so scan + bulk here.
    hits = helpers.scan(es, index=source, query={"query": {"match_all": {}}}, size=settings.bulk_chunk_docs)
    actions = ({"_op_type": "index", "_index": target, "_id": h["_id"], "_source": h["_source"]} for h in hits)
    result = bulk_write(es, settings, actions)
    if result.failures:
        sample = "; ".join(f"{f['_id']}: {f['reason']} {f['message'][:120]}" for f in result.failures[:3])
        raise PermanentError(f"{result.failed} documents did not fit {target} ({sample})", reason=Reason.MIGRATION_FAILED)
    es.indices.refresh(index=target)


def copy_recent(es, source: str, target: str, since: str) -> int:
    """Copy documents written to ``source`` since ``since`` unless ``target`` has a newer copy."""
    from elasticsearch import helpers

    copied = 0
    query = {"query": {"range": {"updated_at": {"gte": since}}}}
    for hit in helpers.scan(es, index=source, query=query):
        mine = hit["_source"]
        theirs = es.options(ignore_status=404).get(index=target, id=hit["_id"]).body
        if theirs.get("found") and theirs["_source"].get("updated_at", "") >= mine.get("updated_at", ""):
            continue
        es.index(index=target, id=hit["_id"], document=mine)
        copied += 1
    return copied


def swap_alias(es, alias: str, old: str, new: str) -> None:
    """Move the alias from ``old`` to ``new`` in one atomic request."""
    es.indices.update_aliases(
        actions=[
            {"add": {"index": new, "alias": alias, "is_write_index": True}},
            {"remove": {"index": old, "alias": alias}},
        ]
    )


@es_boundary
def migrate(es, settings: Settings, kind: str) -> dict:
    """Create the next version, copy, check counts, move the alias; search answers throughout."""
    ensure_indices(es, settings)
    alias = alias_name(settings, kind)
    old = current_index(es, settings, kind)
    new = index_name(settings, kind, index_version(old) + 1)
    es.options(ignore_status=404).indices.delete(index=new)  # a leftover of an interrupted migration
    create_index(es, new)
    started = now_iso()
    es.indices.refresh(index=old)
    before = es.count(index=old).body["count"]
    copy_documents(es, settings, old, new)
    copied = es.count(index=new).body["count"]
    if copied < before:
        raise PermanentError(f"{new} holds {copied} of {before} documents; alias left on {old}", reason=Reason.COUNT_MISMATCH)
    swap_alias(es, alias, old, new)
    # Writes that reached the old index while copying, now that no writer targets it.
    caught_up = copy_recent(es, old, new, started)
    es.indices.refresh(index=[old, new])
    counts = {"old": es.count(index=old).body["count"], "new": es.count(index=new).body["count"]}
    if counts["new"] < counts["old"]:
        raise PermanentError(f"{new} has fewer documents than {old}: {counts}", reason=Reason.COUNT_MISMATCH)
    LOGGER.info("migrated %s: %s -> %s (%s documents, %s caught up)", alias, old, new, counts["new"], caught_up)
    return {"alias": alias, "from": old, "to": new, "documents": counts["new"], "caught_up": caught_up}


# -- CLI -------------------------------------------------------------------------------------


@es_boundary
def index_status(es, settings: Settings) -> dict:
    """Cluster version and health, and per alias its index, version and document count."""
    status = {"cluster": cluster_info(es), "english_analysis": has_english_analysis(es), "aliases": {}}
    for kind in KINDS:
        current = current_index(es, settings, kind)
        count = es.count(index=current).body["count"] if current else None
        status["aliases"][alias_name(settings, kind)] = {"index": current, "documents": count}
    return status


def run_index_command(args, settings: Settings) -> int:
    """``wiredesk index setup|migrate|status``."""
    import json

    es = connect(settings)
    if args.action == "setup":
        output: Any = ensure_indices(es, settings)
    elif args.action == "migrate":
        output = [migrate(es, settings, kind) for kind in KINDS]
    else:
        output = index_status(es, settings)
    print(json.dumps(output, indent=2))
    return 0
