"""Elasticsearch templates, versioned indices and aliases: set-up, migration, status.

Layout per kind (``articles``, ``feeds``): a composable index template matching
``<prefix>-<kind>-v*``, a versioned index ``<prefix>-<kind>-v<N>`` and the alias
``<prefix>-<kind>`` (the write index) that every reader and writer uses. ``wiredesk index migrate``
creates ``v<N+1>`` from the current template, copies the documents, checks the counts and moves
the alias in one atomic action, so search keeps answering throughout.
"""

from __future__ import annotations

import logging

from pipeline.errors import PermanentError, Reason
from pipeline.settings import Settings
from pipeline.store.bulk import bulk_write, now_iso
from pipeline.store.client import es_boundary
from pipeline.store.mappings import build_template, has_english_analysis

LOGGER = logging.getLogger(__name__)

KINDS = ("articles", "feeds")


def cluster_info(es) -> dict:
    """Version and health; ``GET /`` is not allowed on every distribution, so ask the local node."""
    nodes = es.nodes.info(node_id="_local", metric="_none").body.get("nodes", {})
    node = next(iter(nodes.values()), {})
    if "version" not in node:  # metric=_none still returns version; older servers may not
        nodes = es.nodes.info(node_id="_local").body.get("nodes", {})
        node = next(iter(nodes.values()), {})
    health = es.cluster.health().body
    return {"version": node.get("version"), "status": health.get("status"), "cluster_name": health.get("cluster_name")}


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
    from pipeline.store.runs import ensure_runs_index, runs_index

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


@es_boundary
def index_status(es, settings: Settings) -> dict:
    """Cluster version and health, and per alias its index, version and document count."""
    status = {"cluster": cluster_info(es), "english_analysis": has_english_analysis(es), "aliases": {}}
    for kind in KINDS:
        current = current_index(es, settings, kind)
        count = es.count(index=current).body["count"] if current else None
        status["aliases"][alias_name(settings, kind)] = {"index": current, "documents": count}
    return status
