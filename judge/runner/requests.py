"""Render every kind of request the runner sends, laid out so requests of one sample share a prefix.

This is the one planner: `RequestBuilder.plan_verdicts` lays out breadth verdict requests
(samples x criteria, each sample's requests adjacent and sharing a `prefix_group`), and the
strategies, pairwise comparisons and the rubric engine build every other request here.

Request ids are ``s<i>/<criterion id>`` for verdicts and
``s<i>/#<role>`` for the other roles of sample i; ``#`` cannot occur in a criterion id, so the
two never collide. Pairs use ``p<i>/ab`` and ``p<i>/ba`` (and ``p<i>/a/<criterion id>``,
``p<i>/b/<criterion id>`` for rubric verdicts). All requests of one sample or pair carry one
`prefix_group`. The naive baseline's requests are ``s<i>/#naive`` and ``p<i>/#naive-ab``,
``p<i>/#naive-ba``, in groups of their own (their prompt shares no prefix with the judge's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import Any

from judge.backends.base import Capabilities
from judge.errors import ConfigError
from judge.prompting import PromptContext, PromptLibrary, neutralise
from judge.runner.formats import (
    ChoiceFormat,
    PrincipleFormat,
    likert_format,
    pair_format,
    route_format,
    verdict_format,
    verdict_max_tokens,
)
from judge.settings import DEFAULTS, JudgeSettings
from judge.types import (
    Criterion,
    GenerationRequest,
    Message,
    Pair,
    Rubric,
    Sample,
    SamplingParams,
)

SYSTEM_TEMPLATE = "judge_system"
POINTWISE_TEMPLATE = "pointwise_breadth"
DEPTH_TEMPLATE = "pointwise_depth"
SOLVE_TEMPLATE = "depth_solve"
ROUTE_TEMPLATE = "route_task"
PRINCIPLES_TEMPLATE = "breadth_principles"
LIKERT_TEMPLATE = "pointwise_likert"
PAIRWISE_TEMPLATE = "pairwise_direct"
RELATIVE_TEMPLATE = "relative_confidence"
NAIVE_POINTWISE_TEMPLATE = "naive_pointwise"
NAIVE_PAIRWISE_TEMPLATE = "naive_pairwise"


def _turns(conversation: Pair | Sample) -> list[tuple[str, str]]:
    return [(message.role, message.content) for message in conversation.conversation]


@lru_cache(maxsize=4096)
def _neutral_criterion(text: str) -> str:
    """A criterion's text as templates see it (a rubric's few texts recur in every sample)."""
    return neutralise(text)


@dataclass(frozen=True)
class PlannedRequest:
    """A request and what it judges: which sample (by position) and which criterion."""

    request: GenerationRequest
    sample_index: int
    criterion: Criterion


@dataclass(frozen=True)
class RequestBuilder:
    """Renders requests from one prompt library and one set of decoding settings.

    Its decoding settings are the judge's `JudgeSettings` (read from `settings`, never copied):
    `samples` > 1 draws that many judgments per judged request (self-consistency) at
    `temperature`, or at `sample_temperature` when `temperature` is 0: greedy samples would all
    be the same. Routing and solving are drawn once. `reasoning` orders every judged answer
    (verdicts, pairwise, Likert); under ``none`` they are scored, not decoded.
    """

    prompts: PromptLibrary
    capabilities: Capabilities
    settings: JudgeSettings = DEFAULTS
    max_principles: int = 5
    principle_chars: int = 80

    def __post_init__(self) -> None:
        if self.settings.reasoning == "none" and not self.capabilities.score_without_decoding:
            raise ConfigError(
                "this backend cannot score without decoding (reasoning 'none')",
                hint="use reasoning before or after, or a backend that scores the next token "
                "(transformers, sglang, or openai with vllm/sglang flavor or a tokenizer)",
            )

    @property
    def judged_temperature(self) -> float:
        """The temperature of judged requests (verdicts, pairwise, Likert)."""
        if self.settings.samples > 1 and self.settings.temperature == 0:
            return self.settings.sample_temperature
        return self.settings.temperature

    def _sampling(
        self, max_tokens: int, *, n: int = 1, temperature: float | None = None
    ) -> SamplingParams:
        return SamplingParams(
            max_new_tokens=max_tokens,
            temperature=self.settings.temperature if temperature is None else temperature,
            seed=self.settings.seed,
            n=n,
        )

    def _judged(self, max_tokens: int) -> SamplingParams:
        return self._sampling(
            max_tokens, n=self.settings.samples, temperature=self.judged_temperature
        )

    def _answer(self, output: ChoiceFormat, max_tokens: int) -> dict[str, Any]:
        """Sampling, constraint and probe of a judged answer; under `none`, its score prefix."""
        if self.settings.reasoning == "none":
            return {
                "sampling": self._sampling(1, temperature=self.judged_temperature),
                "probe": output.probe(),
                "score_after": output.score_prefix,
            }
        return {
            "sampling": self._judged(max_tokens),
            "constraint": output.constraint(self.capabilities),
            "probe": output.probe(),
        }

    def system(self) -> Message:
        """The judge's system message, identical in every verdict request."""
        return self._system

    @cached_property
    def _system(self) -> Message:
        return Message(role="system", content=self.prompts.render(SYSTEM_TEMPLATE, PromptContext()))

    @cached_property
    def _verdict_output(self) -> dict[str, Any]:
        """The sampling, constraint and probe (or score prefix) of every verdict request."""
        output = verdict_format(self.settings.max_rationale_chars, self.settings.reasoning)
        return self._answer(output, verdict_max_tokens(self.settings.max_rationale_chars))

    def _verdict_request(self, request_id: str, prompt: str, group: str) -> GenerationRequest:
        messages = (self._system, Message(role="user", content=prompt))
        return GenerationRequest(
            id=request_id, messages=messages, prefix_group=group, **self._verdict_output
        )

    def _per_criterion(
        self,
        template: str,
        context: PromptContext,
        criteria: Sequence[Criterion],
        stem: str,
    ) -> list[GenerationRequest]:
        """One request per criterion; the shared prompt is rendered once per criterion kind.

        The render with the criterion slot is reused whenever the template prints the criterion
        verbatim (`PromptLibrary.render_around`), so the prompts are byte-identical to a full
        render per criterion, which is the fallback.
        """
        around: dict[str, tuple[str, str] | None] = {}
        requests = []
        for criterion in criteria:
            text = _neutral_criterion(criterion.text)
            kind = criterion.kind
            if kind not in around:
                around[kind] = self.prompts.render_around(
                    template, context, "criterion", criterion_kind=kind
                )
            parts = around[kind]
            if parts is not None and text and text == text.strip():
                prompt = f"{parts[0]}{text}{parts[1]}"
            else:
                full = replace(context, criterion=text, criterion_kind=kind)
                prompt = self.prompts.render(template, full)
            requests.append(self._verdict_request(f"{stem}/{criterion.id}", prompt, stem))
        return requests

    def _sample_context(
        self, sample: Sample, rubric: Rubric | None, **fields: Any
    ) -> PromptContext:
        return PromptContext.from_data(
            rubric_name=rubric.name if rubric else "",
            rubric_description=rubric.description if rubric else "",
            conversation=_turns(sample),
            response=sample.response,
            max_rationale_chars=self.settings.max_rationale_chars,
            reasoning=self.settings.reasoning,
            **fields,
        )

    def plan_verdicts(
        self, samples: Sequence[Sample], rubric: Rubric, *, only: set[str] | None = None
    ) -> list[PlannedRequest]:
        """One verdict request per (sample, criterion), grouped by sample, in rubric order.

        `only` restricts the plan to those request ids (a retry round).
        """
        planned = []
        for index, sample in enumerate(samples):
            criteria = [
                criterion
                for criterion in rubric.leaves()
                if only is None or f"s{index}/{criterion.id}" in only
            ]
            if not criteria:
                continue
            requests = self.verdicts(index, sample, rubric, criteria)
            for criterion, request in zip(criteria, requests, strict=True):
                planned.append(PlannedRequest(request, index, criterion))
        return planned

    def verdicts(
        self,
        index: int,
        sample: Sample,
        rubric: Rubric,
        criteria: Sequence[Criterion],
        *,
        stem: str | None = None,
    ) -> list[GenerationRequest]:
        """Breadth verdicts: one per criterion, after the shared rubric + conversation + response.

        `stem` replaces ``s<index>`` in the ids and prefix group (pairs judge two responses).
        """
        stem = stem or f"s{index}"
        context = self._sample_context(sample, rubric, reference=sample.reference)
        return self._per_criterion(POINTWISE_TEMPLATE, context, criteria, stem)

    def verdict(
        self,
        index: int,
        sample: Sample,
        rubric: Rubric,
        criterion: Criterion,
        *,
        stem: str | None = None,
    ) -> GenerationRequest:
        """A breadth verdict of one criterion (see `verdicts`)."""
        return self.verdicts(index, sample, rubric, (criterion,), stem=stem)[0]

    def depth_verdicts(
        self,
        index: int,
        sample: Sample,
        rubric: Rubric,
        criteria: Sequence[Criterion],
        solution: str,
        solution_source: str,
    ) -> list[GenerationRequest]:
        """Depth verdicts: each critical criterion, checked against a worked solution."""
        context = self._sample_context(
            sample, rubric, solution=solution, extra={"solution_source": solution_source}
        )
        return self._per_criterion(DEPTH_TEMPLATE, context, criteria, f"s{index}")

    def depth_verdict(
        self,
        index: int,
        sample: Sample,
        rubric: Rubric,
        criterion: Criterion,
        solution: str,
        solution_source: str,
    ) -> GenerationRequest:
        """A depth verdict of one critical criterion (see `depth_verdicts`)."""
        return self.depth_verdicts(index, sample, rubric, (criterion,), solution, solution_source)[
            0
        ]

    def principles_format(self) -> PrincipleFormat:
        """The output format of a principles request."""
        return PrincipleFormat(max_items=self.max_principles, principle_chars=self.principle_chars)

    def principles(
        self, index: int, sample: Sample, rubric: Rubric, rationales: int
    ) -> GenerationRequest:
        """N sampled principle lists (breadth), sharing the prefix of the sample's verdicts."""
        output = self.principles_format()
        context = self._sample_context(
            sample,
            rubric,
            reference=sample.reference,
            extra={"max_principles": self.max_principles, "principle_chars": self.principle_chars},
        )
        temperature = self.settings.temperature or self.settings.sample_temperature
        return GenerationRequest(
            id=f"s{index}/#principles",
            messages=(
                self.system(),
                Message(role="user", content=self.prompts.render(PRINCIPLES_TEMPLATE, context)),
            ),
            sampling=self._sampling(output.max_tokens(), n=rationales, temperature=temperature),
            constraint=output.constraint(self.capabilities),
            prefix_group=f"s{index}",
        )

    def likert(self, index: int, sample: Sample, rubric: Rubric, scale: int) -> GenerationRequest:
        """A 1-`scale` overall rating, sharing the prefix of the sample's breadth verdicts."""
        output = likert_format(scale, self.settings.max_rationale_chars, self.settings.reasoning)
        context = self._sample_context(
            sample,
            rubric,
            reference=sample.reference,
            criteria=tuple(criterion.text for criterion in rubric.leaves()),
            extra={"scale": scale},
        )
        return GenerationRequest(
            id=f"s{index}/#likert",
            messages=(
                self.system(),
                Message(role="user", content=self.prompts.render(LIKERT_TEMPLATE, context)),
            ),
            **self._answer(output, output.max_tokens()),
            prefix_group=f"s{index}",
        )

    def solve(self, index: int, sample: Sample) -> GenerationRequest:
        """The depth strategy's first round: the judge's own solution of the task (no response)."""
        context = PromptContext.from_data(conversation=_turns(sample))
        return GenerationRequest(
            id=f"s{index}/#solve",
            messages=(Message(role="user", content=self.prompts.render(SOLVE_TEMPLATE, context)),),
            sampling=self._sampling(self.settings.max_solution_tokens),
            prefix_group=f"s{index}",
        )

    def route(self, index: int, sample: Sample) -> GenerationRequest:
        """The auto strategy's routing question: is the task objective or subjective?"""
        output = route_format()
        context = PromptContext.from_data(conversation=_turns(sample))
        return GenerationRequest(
            id=f"s{index}/#route",
            messages=(Message(role="user", content=self.prompts.render(ROUTE_TEMPLATE, context)),),
            sampling=self._sampling(output.max_tokens(), temperature=0.0),
            constraint=output.constraint(self.capabilities),
            probe=output.probe(),
            prefix_group=f"s{index}",
        )

    def pairwise(
        self,
        index: int,
        pair: Pair,
        order: str,
        rubric: Rubric | None,
        *,
        naive: bool = False,
        stem: str = "#naive",
    ) -> GenerationRequest:
        """One order of a direct comparison: ``ab`` shows response_a first, ``ba`` response_b.

        `naive`: the naive baseline's plain A/B question instead (no rubric, the reference shown),
        its request ids marked by `stem` (the holistic question asks it under its own).
        """
        first, second = (
            (pair.response_a, pair.response_b)
            if order == "ab"
            else (pair.response_b, pair.response_a)
        )
        output = pair_format(self.settings.max_rationale_chars, self.settings.reasoning)
        context = PromptContext.from_data(
            rubric_name=rubric.name if rubric else "",
            rubric_description=rubric.description if rubric else "",
            criteria=tuple(criterion.text for criterion in rubric.leaves()) if rubric else (),
            conversation=_turns(pair),
            response_a=first,
            response_b=second,
            reference=pair.reference if naive else None,
            max_rationale_chars=self.settings.max_rationale_chars,
            reasoning=self.settings.reasoning,
        )
        template, marker = (
            (NAIVE_PAIRWISE_TEMPLATE, f"{stem}-") if naive else (PAIRWISE_TEMPLATE, "")
        )
        return GenerationRequest(
            id=f"p{index}/{marker}{order}",
            messages=(Message(role="user", content=self.prompts.render(template, context)),),
            **self._answer(output, output.max_tokens()),
            prefix_group=f"p{index}/{stem}" if naive else f"p{index}",
        )

    def naive_verdict(
        self, index: int, sample: Sample, *, stem: str = "#naive"
    ) -> GenerationRequest:
        """The naive baseline's yes/no question (no rubric, no system message; reference shown).

        `stem` marks its request id (the holistic question asks it under its own).
        """
        context = self._sample_context(sample, None, reference=sample.reference)
        prompt = self.prompts.render(NAIVE_POINTWISE_TEMPLATE, context)
        return GenerationRequest(
            id=f"s{index}/{stem}",
            messages=(Message(role="user", content=prompt),),
            **self._verdict_output,
            prefix_group=f"s{index}/{stem}",
        )

    def relative_confidence(
        self,
        request_id: str,
        first: tuple[Sample, bool],
        second: tuple[Sample, bool],
        rubric: Rubric | None,
    ) -> GenerationRequest:
        """Which of two of the judge's own verdicts (sample, passed) it is more sure of: A or B.

        Shrivastava et al. 2025 (relative confidence): comparing two answers' confidence is easier
        for a model than stating one; the answer format is the direct comparison's.
        """
        output = pair_format(self.settings.max_rationale_chars)
        (sample_a, passed_a), (sample_b, passed_b) = first, second
        context = PromptContext.from_data(
            rubric_name=rubric.name if rubric else "",
            rubric_description=rubric.description if rubric else "",
            prompts=tuple(
                "\n".join(f"{m.role}: {m.content}" for m in sample.conversation)
                for sample in (sample_a, sample_b)
            ),
            response_a=sample_a.response,
            response_b=sample_b.response,
            max_rationale_chars=self.settings.max_rationale_chars,
            extra={
                "verdict_a": "meets" if passed_a else "does not meet",
                "verdict_b": "meets" if passed_b else "does not meet",
            },
        )
        return GenerationRequest(
            id=request_id,
            messages=(
                Message(role="user", content=self.prompts.render(RELATIVE_TEMPLATE, context)),
            ),
            sampling=self._judged(output.max_tokens()),
            constraint=output.constraint(self.capabilities),
            probe=output.probe(),
        )
