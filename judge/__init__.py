"""`judge`: a generative LLM judge with rubrics.

Public API::

    from judge import Judge, Sample, load_rubric
    judge = Judge(backend="transformers", rubric="helpfulness")
    [judgment] = judge.score([Sample(id="1", prompt="What is 2+2?", response="4")])
"""

from judge.backends import available_backends, create_backend
from judge.backends.base import Backend, Capabilities
from judge.backends.scripted import ScriptedBackend, ScriptedReply
from judge.errors import (
    BackendError,
    BackendUnavailableError,
    ConfigError,
    GenerationError,
    InputError,
    JudgeError,
    RubricError,
    TemplateError,
    VerdictParseError,
)
from judge.library import dump_rubric, list_rubrics, load_rubric
from judge.reward import RubricReward
from judge.runner.judge import Judge
from judge.settings import JudgeSettings
from judge.types import (
    Criterion,
    CriterionVerdict,
    Generation,
    GenerationRequest,
    Judgment,
    Message,
    Pair,
    PairJudgment,
    Rubric,
    Sample,
    Usage,
)

__version__ = "0.1.0"

__all__ = [
    "Backend",
    "BackendError",
    "BackendUnavailableError",
    "Capabilities",
    "ConfigError",
    "Criterion",
    "CriterionVerdict",
    "Generation",
    "GenerationError",
    "GenerationRequest",
    "InputError",
    "Judge",
    "JudgeError",
    "JudgeSettings",
    "Judgment",
    "Message",
    "Pair",
    "PairJudgment",
    "Rubric",
    "RubricError",
    "RubricReward",
    "Sample",
    "ScriptedBackend",
    "ScriptedReply",
    "TemplateError",
    "Usage",
    "VerdictParseError",
    "available_backends",
    "create_backend",
    "dump_rubric",
    "list_rubrics",
    "load_rubric",
]
