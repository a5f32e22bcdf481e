"""The raw-HTML archive: every fetched page, gzip-compressed, keyed by document id.

The root is ``settings.archive_root``: a local folder by default, or any fsspec URL
(``s3://bucket/prefix``, ``memory://wiredesk`` in tests). Paths are sharded by id prefix so no
folder grows huge: ``<root>/ab/cd/abcd1234....html.gz``. Re-extraction and re-enrichment read from
here and never refetch a page.

Pages are stored as the bytes the server sent (after Content-Encoding, before any charset decoding;
archives written before held UTF-8 text, which decodes the same way) and load back as stored; the one HTML
decoder (:mod:`pipeline.fetch.decode`) reads them with the document's ``http_charset``, as it reads a page
from the wire. Compression is deterministic (no timestamp in the gzip header), so
storing the same page twice writes identical bytes: archive writes are idempotent.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import posixpath
import re
import tempfile

import fsspec
from fsspec.implementations.local import LocalFileSystem

from pipeline.errors import PermanentError
from pipeline.settings import Settings

LOGGER = logging.getLogger(__name__)


# Ids are hashes of canonical URLs; anything else (slashes, dots) could escape the archive root.
DOC_ID_RE = re.compile(r"^[A-Za-z0-9_-]{4,128}$")
SUFFIX = ".html.gz"
COMPRESS_LEVEL = 6  # ~4-5x on HTML; level 9 costs twice the CPU for ~2% smaller files


def raw_path(doc_id: str, settings: Settings) -> str:
    """Where the raw page of ``doc_id`` lives: an fsspec URL or a local path."""
    root = settings.archive_root.rstrip("/")
    return posixpath.join(root, *shard_parts(doc_id), doc_id + SUFFIX)


def shard_parts(doc_id: str) -> tuple[str, str]:
    """The two sharding folders for an id (first two and next two characters)."""
    if not DOC_ID_RE.match(doc_id or ""):
        raise PermanentError(f"invalid document id for the archive: {doc_id!r}", reason="bad_doc_id")
    return doc_id[:2], doc_id[2:4]


def store_raw(doc_id: str, raw_html: bytes | str, settings: Settings) -> str:
    """Store a page gzip-compressed under the archive root; returns its path (a reference for XCom)."""
    path = raw_path(doc_id, settings)
    data = compress_html(raw_html)
    fs, fs_path = fsspec.core.url_to_fs(path)
    if isinstance(fs, LocalFileSystem):
        write_local_atomic(fs_path, data)
    else:
        fs.makedirs(posixpath.dirname(fs_path), exist_ok=True)
        fs.pipe_file(fs_path, data)  # object stores replace whole objects: a reader never sees half
    LOGGER.debug("archived %s (%d bytes compressed) at %s", doc_id, len(data), path)
    return path


def load_raw(doc_id: str, settings: Settings) -> bytes:
    """The archived page of ``doc_id`` as stored; PermanentError ``not_archived`` when absent."""
    path = raw_path(doc_id, settings)
    fs, fs_path = fsspec.core.url_to_fs(path)
    try:
        data = fs.cat_file(fs_path)
    except FileNotFoundError as exc:
        raise PermanentError(f"no archived page for {doc_id}", reason="not_archived") from exc
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise PermanentError(f"corrupt archive entry {path}: {exc}", reason="archive_corrupt") from exc
    return raw


def has_raw(doc_id: str, settings: Settings) -> bool:
    """Whether the archive holds a page for ``doc_id``."""
    fs, fs_path = fsspec.core.url_to_fs(raw_path(doc_id, settings))
    return bool(fs.exists(fs_path))


def compress_html(raw_html: bytes | str) -> bytes:
    """Gzip a page deterministically (mtime 0), encoding text as UTF-8."""
    if isinstance(raw_html, str):
        raw_html = raw_html.encode("utf-8", errors="surrogatepass")
    return gzip.compress(raw_html, compresslevel=COMPRESS_LEVEL, mtime=0)


def write_local_atomic(path: str, data: bytes) -> None:
    """Write a local file via a temporary sibling and rename, so readers never see a partial file."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
