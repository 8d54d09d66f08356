"""A local model is named from its config or GGUF metadata, never from its folder's name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge.backends.transformers.embedded import config_model_name, gguf_model_name, resolve_model
from judge.errors import ConfigError


def _folder(tmp_path: Path, config: dict[str, object], name: str = "hf") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def test_hub_name_in_the_config_names_the_model(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {"_name_or_path": "HuggingFaceTB/SmolLM2-135M-Instruct", "architectures": ["Llama"]},
    )
    model_id, hf_dir, gguf = resolve_model(str(folder))
    assert (model_id, hf_dir, gguf) == ("HuggingFaceTB/SmolLM2-135M-Instruct", folder, None)


def test_a_local_path_in_the_config_falls_back_to_the_architecture(tmp_path: Path) -> None:
    folder = _folder(
        tmp_path,
        {
            "_name_or_path": str(tmp_path / "somewhere"),
            "architectures": ["LlamaForCausalLM"],
            "num_hidden_layers": 30,
            "hidden_size": 576,
        },
    )
    model_id, _, _ = resolve_model(str(folder))
    assert model_id == "LlamaForCausalLM (30 layers, 576 hidden)"
    assert "hf" not in model_id


def test_a_bare_config_names_the_model_type(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"model_type": "qwen2"})
    assert config_model_name(folder / "config.json") == "qwen2"


def test_an_unreadable_config_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot read model config"):
        resolve_model(str(folder))


def test_a_gguf_file_is_named_from_its_metadata(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "model-q4.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("Tiny Judge 1B")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert gguf_model_name(path) == "Tiny Judge 1B"
    assert resolve_model(str(path))[0] == "Tiny Judge 1B"


def test_a_gguf_file_without_a_name_is_named_by_its_architecture(tmp_path: Path) -> None:
    import gguf

    path = tmp_path / "anonymous.gguf"
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert gguf_model_name(path) == "qwen2"
