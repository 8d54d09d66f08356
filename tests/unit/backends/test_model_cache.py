"""The dequantized-model cache: one copy per model content, stale copies removed.

Keyed by install path alone, every new environment added another 260 MB copy of the embedded
model to the user cache and none was ever removed (22 copies, 5.6 GB, on our CI machine).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import pytest
from safetensors import SafetensorError

from judge.backends.transformers import embedded
from judge.backends.transformers.embedded import (
    SOURCE_FILE,
    _gguf_cache_dir,
    _gguf_source,
    _publish,
    embedded_gguf_path,
)
from judge.errors import BackendUnavailableError


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("JUDGE_CACHE_DIR", str(root))
    return root


def _gguf(folder: Path, name: str = "Model.Q4_0.gguf", content: bytes = b"GGUF v3") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def _copy(models: Path, name: str, source: dict[str, object] | None) -> Path:
    folder = models / name
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"weights")
    if source is not None:
        (folder / SOURCE_FILE).write_text(json.dumps(source), encoding="utf-8")
    return folder


def test_the_embedded_model_is_keyed_by_its_content(cache: Path) -> None:
    gguf = embedded_gguf_path()
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()

    source = _gguf_source(gguf)

    assert (source["key"], source["sha256"]) == ("sha256", digest)
    assert _gguf_cache_dir(gguf) == cache / "models" / f"{gguf.stem}-{digest[:12]}"


def test_a_copy_of_the_embedded_file_elsewhere_is_keyed_by_its_path(
    cache: Path, tmp_path: Path
) -> None:
    embedded = embedded_gguf_path()
    # Same name, another place: the wheel's record does not vouch for it.
    other = _gguf(tmp_path / "elsewhere", embedded.name)

    source = _gguf_source(other)

    assert (source["key"], source["sha256"]) == ("path", None)
    assert _gguf_cache_dir(other) != _gguf_cache_dir(embedded)


def test_a_path_key_changes_when_the_file_is_replaced(cache: Path, tmp_path: Path) -> None:
    gguf = _gguf(tmp_path / "models")
    before = _gguf_cache_dir(gguf)
    stat = gguf.stat()

    os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    assert _gguf_cache_dir(gguf) != before
    assert before.parent == cache / "models"


def test_publishing_records_the_source_and_removes_only_stale_copies(
    cache: Path, tmp_path: Path
) -> None:
    models = cache / "models"
    gguf = _gguf(tmp_path / "weights")
    source = _gguf_source(gguf)
    target = _gguf_cache_dir(gguf, source)

    deleted = _gguf(tmp_path / "gone", "Gone.gguf")
    deleted_source = _gguf_source(deleted)
    deleted.unlink()
    changed = _gguf(tmp_path / "changed", "Changed.gguf")
    changed_source = _gguf_source(changed)
    changed.write_bytes(b"GGUF v3, re-downloaded")
    current = _gguf(tmp_path / "current", "Current.gguf")
    content_keyed = {"key": "sha256", "sha256": "ab" * 32, "path": str(tmp_path / "old-venv")}

    stale_gone = _copy(models, "Gone-111111111111", deleted_source)
    stale_changed = _copy(models, "Changed-222222222222", changed_source)
    live = _copy(models, "Current-333333333333", _gguf_source(current))
    shared = _copy(models, "Embedded-abababababab", content_keyed)
    legacy = _copy(models, "Legacy-444444444444", None)
    abandoned = models / ".staging-dead"
    abandoned.mkdir()
    hours_ago = time.time() - 2 * 3600
    os.utime(abandoned, (hours_ago, hours_ago))
    in_progress = models / ".staging-busy"
    in_progress.mkdir()

    staging = models / ".staging-mine"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"fresh weights")

    _publish(staging, target, source)

    assert (target / "model.safetensors").read_bytes() == b"fresh weights"
    assert json.loads((target / SOURCE_FILE).read_text(encoding="utf-8")) == source
    assert not staging.exists()
    assert not stale_gone.exists()
    assert not stale_changed.exists()
    assert not abandoned.exists()
    for kept in (live, shared, legacy, in_progress):
        assert kept.exists(), kept.name


def test_a_copy_another_process_published_first_is_kept(cache: Path, tmp_path: Path) -> None:
    gguf = _gguf(tmp_path / "weights")
    source = _gguf_source(gguf)
    target = _gguf_cache_dir(gguf, source)
    _copy(target.parent, target.name, source)
    staging = target.parent / ".staging-late"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"late weights")

    _publish(staging, target, source)

    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert not staging.exists()


def test_a_copy_with_a_broken_record_is_removed_not_a_crash(cache: Path, tmp_path: Path) -> None:
    models = cache / "models"
    gguf = _gguf(tmp_path / "weights")
    source = _gguf_source(gguf)
    target = _gguf_cache_dir(gguf, source)
    broken = _copy(models, "Broken-555555555555", {"key": "path"})  # no path, size or mtime
    unreadable = _copy(models, "Garbled-666666666666", None)
    (unreadable / SOURCE_FILE).write_text("{not json", encoding="utf-8")
    staging = models / ".staging-mine"
    staging.mkdir()

    _publish(staging, target, source)

    assert target.is_dir()
    assert not broken.exists()
    assert unreadable.exists()  # no record to judge it by: left alone, as a legacy copy


def test_a_cache_that_is_not_a_folder_fails_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x", encoding="utf-8")
    monkeypatch.setenv("JUDGE_CACHE_DIR", str(not_a_folder))
    monkeypatch.setattr(embedded, "_load_gguf", lambda gguf: pytest.fail("loaded the model"))

    with pytest.raises(BackendUnavailableError, match=r"cannot prepare the model in .*file"):
        embedded._dequantized_dir(_gguf(tmp_path / "weights"))


def test_a_full_disk_while_saving_is_an_error_and_leaves_no_staging(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class FullDisk:
        def save_pretrained(self, folder: str) -> None:
            (Path(folder) / "model.safetensors").write_bytes(b"half")
            raise SafetensorError("I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(embedded, "_load_gguf", lambda gguf: (FullDisk(), FullDisk()))

    with pytest.raises(BackendUnavailableError, match="No space left on device") as raised:
        embedded._dequantized_dir(_gguf(tmp_path / "weights"))

    assert "JUDGE_CACHE_DIR" in (raised.value.hint or "")
    assert list((cache / "models").iterdir()) == []
