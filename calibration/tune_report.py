"""What `judge tune` found: per configuration quality against cost, the choice, and its files.

The choice rule: a configuration **beats the naive baseline** when the lower end of the paired
95% interval of judge - naive on the chosen measure is above the tolerance. Of those, the one
with the highest measure is recommended (a tie goes to the one with fewer tokens, then to the
earlier in the grid). When none beats the baseline, the recommendation is the baseline itself,
and the configuration with the highest measure is written only as the closest judge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from judge.calibration.bootstrap import Interval
from judge.storage import write_atomic

Recommendation = Literal["judge", "naive"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TuneCost(_Frozen):
    """Tokens of an arm over the set, and its estimated seconds.

    Seconds are each shared backend call's wall time split over the distinct requests it ran in
    proportion to their tokens, each arm charged the whole share of every request it asked:
    what the arm would have cost on its own, not a stopwatch reading.
    """

    prompt_tokens: int
    completion_tokens: int
    seconds: float

    @property
    def tokens(self) -> int:
        """Prompt and decoded tokens together."""
        return self.prompt_tokens + self.completion_tokens


class ConfigResult(_Frozen):
    """One configuration's quality, its paired difference with the naive baseline, its cost."""

    name: str
    label: str
    """The grid's values of this configuration, ``reasoning=none score_rule=cap``."""
    settings: dict[str, Any]
    rubric: str
    pair_method: str | None
    n: int
    no_verdict: int
    """Items the configuration gave no verdict on (left out of its measure)."""
    quality: Interval
    naive_quality: float | None
    difference: Interval | None
    """judge - naive on the items both answered, paired bootstrap; None when undefined."""
    beats_naive: bool
    cost: TuneCost
    naive_cost: TuneCost
    resumed: bool = False
    """Its judgments were read back from an earlier run, not judged now."""


class SharedCost(_Frozen):
    """What this run asked of the backend, for every configuration together."""

    backend_calls: int
    requests_asked: int
    """Requests of every configuration and baseline, before identical ones were merged."""
    requests_sent: int
    """Distinct requests the backend ran."""
    seconds: float


class TuneSummary(_Frozen):
    """The whole of a `judge tune` run: `tune.json`."""

    data: str
    kind: Literal["pointwise", "pairwise"]
    n: int
    model: str
    metric: str
    tolerance: float
    n_boot: int
    seed: int
    configs: tuple[ConfigResult, ...]
    recommendation: Recommendation
    best: str
    """The recommended configuration, or (recommendation naive) the closest judge."""
    reason: str
    shared: SharedCost


def choose(
    results: Sequence[ConfigResult], metric: str, tolerance: float
) -> tuple[Recommendation, str, str]:
    """(recommendation, the configuration to write, why), by the rule of this module."""
    ranked = [r for r in results if r.quality.value is not None]
    if not ranked:
        return (
            "naive",
            results[0].name,
            f"the {metric} of no configuration is defined on these items (no verdicts, or one "
            "label only): nothing can be recommended over the naive baseline",
        )
    order = {r.name: i for i, r in enumerate(results)}

    def key(result: ConfigResult) -> tuple[float, int, int]:
        return (-(result.quality.value or 0.0), result.cost.tokens, order[result.name])

    winners = sorted((r for r in ranked if r.beats_naive), key=key)
    if winners:
        best = winners[0]
        return (
            "judge",
            best.name,
            f"{best.name} ({best.label}) has the highest {metric} of the {len(winners)} "
            f"configuration(s) that beat the naive baseline beyond the 95% interval "
            f"(lower end of judge - naive above {tolerance:g})",
        )
    closest = sorted(ranked, key=key)[0]
    return (
        "naive",
        closest.name,
        f"no configuration beat the naive baseline beyond the 95% interval (lower end of judge "
        f"- naive above {tolerance:g}): ask the model the plain question. The closest judge, "
        f"{closest.name} ({closest.label}), is written for reference",
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _diff(interval: Interval | None) -> str:
    if interval is None or interval.value is None:
        return "n/a"
    return f"{interval.value:+.3f} [{_num(interval.low)}, {_num(interval.high)}]"


def render_markdown(summary: TuneSummary, config_file: Path) -> str:
    """The report: the choice first, then one row per configuration, then the shared cost."""
    lines = [
        f"# judge tune: {summary.data}",
        "",
        f"{summary.n} {summary.kind} items, model `{summary.model}`, measure **{summary.metric}** "
        f"(95% bootstrap intervals, {summary.n_boot} resamples, seed {summary.seed}).",
        "",
        "## Recommendation",
        "",
        (
            f"**Use {summary.best}.** {_sentence(summary.reason)}"
            if summary.recommendation == "judge"
            else f"**Use the naive baseline.** {_sentence(summary.reason)}"
        ),
        "",
        f"Config written: `{config_file}` (`judge --config {config_file} score ...`).",
        "",
        "## Configurations",
        "",
        f"| config | grid values | {summary.metric} [95% CI] | naive | judge - naive [95% CI] "
        "| beats naive | no verdict | prompt tokens | decoded tokens | est. seconds |",
        "|---|---|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for r in summary.configs:
        mark = " (resumed)" if r.resumed else ""
        lines.append(
            f"| {r.name}{mark} | {r.label} | {r.quality.format()} | {_num(r.naive_quality)} "
            f"| {_diff(r.difference)} | {'yes' if r.beats_naive else 'no'} | {r.no_verdict} "
            f"| {r.cost.prompt_tokens} | {r.cost.completion_tokens} | {r.cost.seconds:.1f} |"
        )
    lines += [
        "",
        "The naive column is the same model asked the plain question with the configuration's "
        "decoding settings, on the same items (`docs/naive-baseline.md`); the difference is "
        "paired over the items both answered. Its cost per configuration:",
        "",
        "| config | naive prompt tokens | naive decoded tokens | naive est. seconds |",
        "|---|---:|---:|---:|",
    ]
    for r in summary.configs:
        cost = r.naive_cost
        lines.append(
            f"| {r.name} | {cost.prompt_tokens} | {cost.completion_tokens} | {cost.seconds:.1f} |"
        )
    shared = summary.shared
    lines += [
        "",
        "## Shared batches",
        "",
        f"This run: {_count(shared.backend_calls, 'backend call')}, {shared.requests_asked} "
        f"requests asked by every configuration and baseline, {shared.requests_sent} distinct "
        "requests run, "
        f"{shared.seconds:.1f} s in the backend. Estimated seconds split each call's time over "
        "its requests by tokens, charging each configuration what it would cost alone.",
        "",
    ]
    return "\n".join(lines)


def tuned_yaml(
    summary: TuneSummary,
    settings: Mapping[str, Any],
    defaults: Mapping[str, Any],
    backend_options: Mapping[str, Any],
    report: Path,
) -> str:
    """The `--config` file of the chosen configuration, with what tune found under `tuned`."""
    chosen = next(r for r in summary.configs if r.name == summary.best)
    header = [
        f"# Written by `judge tune` on {summary.data} ({summary.n} items, {summary.metric}).",
        f"# Recommendation: {summary.recommendation}. {summary.reason}.",
        f"# Report: {report}",
    ]
    if summary.recommendation == "naive":
        header.append(
            "# These settings are the closest judge, not a recommendation: every judging "
            "command run with this file says so."
        )
    body = {
        "settings": dict(settings),
        "defaults": dict(defaults),
        "backend_options": dict(backend_options),
        "tuned": {
            "recommendation": summary.recommendation,
            "config": f"{chosen.name} {chosen.label}",
            "metric": summary.metric,
            "value": chosen.quality.value,
            "naive": chosen.naive_quality,
            "difference_low": None if chosen.difference is None else chosen.difference.low,
            "difference_high": None if chosen.difference is None else chosen.difference.high,
            "data": summary.data,
            "items": summary.n,
            "report": str(report),
        },
    }
    return "\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False)


def write_outputs(
    summary: TuneSummary,
    output: Path,
    *,
    settings: Mapping[str, Any],
    defaults: Mapping[str, Any],
    backend_options: Mapping[str, Any],
) -> tuple[Path, Path]:
    """Write ``tune.json``, ``report.md`` and ``tuned.yaml``; returns (report, config)."""
    report, config = output / "report.md", output / "tuned.yaml"
    write_atomic(output / "tune.json", summary.model_dump_json(indent=2) + "\n")
    write_atomic(report, render_markdown(summary, config))
    write_atomic(config, tuned_yaml(summary, settings, defaults, backend_options, report))
    return report, config
