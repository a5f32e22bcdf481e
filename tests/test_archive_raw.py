"""The raw-HTML archive on a local folder and on fsspec's memory:// filesystem."""

from __future__ import annotations

import gzip
import os
import uuid

import fsspec
import pytest

from pipeline.errors import PermanentError
from pipeline.fetch.decode import decode_html
from pipeline.settings import Settings
from pipeline.store.archive import has_raw, load_raw, raw_path, store_raw

DOC_ID = "3f2a9c0d1e4b5a6978c0d1e2f3a4b5c6"
PAGE = "<html><head><meta charset='utf-8'><title>Zürich</title></head><body><p>Ça va — 東京</p></body></html>"


@pytest.fixture(params=["local", "memory"])
def archive_settings(request, tmp_path) -> Settings:
    """Settings whose archive is a local folder, or a fresh memory:// prefix."""
    if request.param == "local":
        return Settings(data_dir=tmp_path)
    return Settings(data_dir=tmp_path, archive_url=f"memory://wiredesk-test-{uuid.uuid4().hex[:8]}/raw")


def test_default_root_is_local_folder_under_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert raw_path(DOC_ID, settings) == f"{tmp_path}/raw/3f/2a/{DOC_ID}.html.gz"


def test_path_is_sharded_by_id_prefix(archive_settings):
    assert raw_path(DOC_ID, archive_settings).endswith(f"/raw/3f/2a/{DOC_ID}.html.gz")


@pytest.mark.parametrize("content", [PAGE, PAGE.encode("utf-8")], ids=["str", "utf8-bytes"])
def test_round_trip(archive_settings, content):
    assert not has_raw(DOC_ID, archive_settings)
    path = store_raw(DOC_ID, content, archive_settings)
    assert has_raw(DOC_ID, archive_settings)
    assert load_raw(DOC_ID, archive_settings) == PAGE.encode()
    assert path == raw_path(DOC_ID, archive_settings)


def read_bytes(path: str) -> bytes:
    """The stored bytes at an fsspec URL or local path."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    return fs.cat_file(fs_path)


def test_stored_gzip_compressed(archive_settings):
    data = read_bytes(store_raw(DOC_ID, PAGE * 100, archive_settings))
    assert data[:2] == b"\x1f\x8b" and len(data) < len((PAGE * 100).encode()) / 5
    assert gzip.decompress(data).decode() == PAGE * 100


def test_storing_twice_is_idempotent(archive_settings):
    path = store_raw(DOC_ID, PAGE, archive_settings)
    first = read_bytes(path)
    store_raw(DOC_ID, PAGE, archive_settings)
    assert read_bytes(path) == first  # no timestamp in the gzip header


def test_overwrite_replaces_page(archive_settings):
    store_raw(DOC_ID, PAGE, archive_settings)
    store_raw(DOC_ID, "<p>updated</p>", archive_settings)
    assert load_raw(DOC_ID, archive_settings) == b"<p>updated</p>"


@pytest.mark.parametrize("stored", ["str", "cp1251-bytes"])
def test_archived_pages_decode_with_the_one_decoder(archive_settings, stored):
    page = "<html><head><meta charset='windows-1251'></head><body>Новости дня</body></html>"
    store_raw(DOC_ID, page if stored == "str" else page.encode("cp1251"), archive_settings)
    assert decode_html(load_raw(DOC_ID, archive_settings))[0] == page


def test_missing_page_is_permanent_not_archived(archive_settings):
    with pytest.raises(PermanentError) as info:
        load_raw(DOC_ID, archive_settings)
    assert info.value.reason == "not_archived"


def test_corrupt_entry_is_reported(archive_settings):
    path = store_raw(DOC_ID, PAGE, archive_settings)
    with fsspec.open(path, "wb") as handle:
        handle.write(b"\x1f\x8b garbage")
    with pytest.raises(PermanentError) as info:
        load_raw(DOC_ID, archive_settings)
    assert info.value.reason == "archive_corrupt"


@pytest.mark.parametrize("doc_id", ["../../etc/passwd", "a/b/c/d", "", "abc", "x" * 200, "id with space"])
def test_ids_that_could_escape_the_root_are_refused(archive_settings, doc_id):
    with pytest.raises(PermanentError) as info:
        store_raw(doc_id, PAGE, archive_settings)
    assert info.value.reason == "bad_doc_id"


def test_local_write_leaves_no_temporary_files(tmp_path):
    settings = Settings(data_dir=tmp_path)
    for n in range(5):
        store_raw(f"{n:02d}ab{uuid.uuid4().hex}", PAGE, settings)
    store_raw(DOC_ID, PAGE, settings)
    names = [name for _, _, files in os.walk(tmp_path / "raw") for name in files]
    assert len(names) == 6 and all(name.endswith(".html.gz") and not name.startswith(".tmp") for name in names)


def test_local_write_failure_keeps_previous_version(tmp_path, monkeypatch):
    settings = Settings(data_dir=tmp_path)
    store_raw(DOC_ID, PAGE, settings)

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError):
        store_raw(DOC_ID, "<p>new</p>", settings)
    monkeypatch.undo()
    assert load_raw(DOC_ID, settings) == PAGE.encode()
    leftovers = [n for _, _, files in os.walk(tmp_path / "raw") for n in files if n.startswith(".tmp")]
    assert leftovers == []
