"""SGLang's own request classes, imported once, from the pinned wheel (no GPU dependencies).

Installed by `.ci/install-sglang-conformance.sh`; absent, the tests are skipped with a reason,
unless ``JUDGE_REQUIRE_PEERS=1`` (what `make check` sets), where absence is a failure.
"""

from __future__ import annotations

import ast
import importlib.metadata
import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.peers import skip_or_fail

#: The release the fixtures and the keyword lists below were captured from.
SGLANG_RELEASE = "0.5.23"
PLACEHOLDER = Path(__file__).parent / "absent_torchvision"


@dataclass(frozen=True)
class SGLangClasses:
    """What the conformance tests check our payloads against."""

    version: str
    generate_req_input: Any
    sampling_params: Any
    contract_error: Any
    engine_generate_params: frozenset[str]
    engine_async_generate_params: frozenset[str]


def _engine_parameters(engine_source: Path, method: str) -> frozenset[str]:
    """Keyword names of ``Engine.<method>``, read from the wheel's source (importing needs CUDA)."""
    tree = ast.parse(engine_source.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Engine":
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == method:
                    args = item.args
                    names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
                    return frozenset(name for name in names if name != "self")
    raise AssertionError(f"Engine.{method} not found in {engine_source}")


@pytest.fixture(scope="session")
def sglang_classes() -> SGLangClasses:
    if importlib.util.find_spec("sglang") is None:
        reason = "sglang is not installed: run .ci/install-sglang-conformance.sh"
        skip_or_fail(reason)
    placeholder = importlib.util.find_spec("torchvision") is None
    if placeholder:
        sys.path.insert(0, str(PLACEHOLDER))
    try:
        # sglang warns at import that AWQ/GGUF kernels need CUDA: expected on this CPU machine.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sglang.srt.entrypoints.api_contract import generate_contract_error
            from sglang.srt.managers.io_struct import GenerateReqInput
            from sglang.srt.sampling.sampling_params import SamplingParams
    finally:
        if placeholder:  # later tests in the session must not see a torchvision
            sys.path.remove(str(PLACEHOLDER))
            for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
                del sys.modules[name]
    spec = importlib.util.find_spec("sglang.srt.entrypoints")
    assert spec is not None and spec.submodule_search_locations
    engine_source = Path(next(iter(spec.submodule_search_locations))) / "engine.py"
    return SGLangClasses(
        version=importlib.metadata.version("sglang"),
        generate_req_input=GenerateReqInput,
        sampling_params=SamplingParams,
        contract_error=generate_contract_error,
        engine_generate_params=_engine_parameters(engine_source, "generate"),
        engine_async_generate_params=_engine_parameters(engine_source, "async_generate"),
    )
