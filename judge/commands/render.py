"""Rich output of the commands: judgment tables, rubric trees, job and report summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from judge.types import Judgment, PairJudgment, Rubric

console = Console()
err_console = Console(stderr=True)


def print_error(message: str) -> None:
    """One red error line on stderr; the message is printed as text, never as markup."""
    err_console.print(f"[red]error[/red]: {escape(message)}", highlight=False, soft_wrap=True)


def print_judgment(judgment: Judgment, rubric: Rubric) -> None:
    """A judgment as a table of verdicts, then its strategy line and its score line."""
    kinds = {criterion.id: criterion.kind for criterion in rubric.leaves()}
    table = Table(title=f"{judgment.sample_id}: rubric {judgment.rubric}", show_lines=False)
    table.add_column("criterion")
    table.add_column("kind")
    table.add_column("verdict")
    table.add_column("P(yes)", justify="right")
    table.add_column("rationale", overflow="fold")
    for verdict in judgment.verdicts:
        p_yes = "n/a" if verdict.p_yes is None else f"{verdict.p_yes:.2f}"
        shown = verdict.verdict or f"[red]error[/red]: {verdict.error}"
        table.add_row(
            verdict.criterion_id,
            kinds.get(verdict.criterion_id, ""),
            shown,
            p_yes,
            verdict.rationale,
        )
    console.print(table)
    print_strategy(judgment)
    if judgment.error is not None:
        console.print(f"[red]failed[/red]: {judgment.error}")
        return
    usage = judgment.usage
    confidence = "unavailable" if judgment.confidence is None else f"{judgment.confidence:.2f}"
    capped = (
        f" (capped by hard rule: {', '.join(judgment.capped_by)})" if judgment.capped_by else ""
    )
    console.print(
        f"score [bold]{judgment.score:.3f}[/bold]{capped}  confidence {confidence}  "
        f"model {judgment.model}  tokens {usage.prompt_tokens}+{usage.completion_tokens}"
        f" ({usage.cached_tokens} cached)"
    )


def rubric_tree(rubric: Rubric) -> Tree:
    """A rubric as a tree: criteria with kind and normalised weight, then dropped criteria."""
    tree = Tree(
        f"[bold]{rubric.name}[/bold] ({rubric.task_type}, fingerprint {rubric.fingerprint})"
    )
    total = sum(leaf.weight for leaf in rubric.leaves()) or 1.0

    def add(node: Tree, criterion: Any) -> None:
        weight = (
            f"w={criterion.weight / total:.2f}"
            if not criterion.children
            else "(judged by its children)"
        )
        kind = escape(f"[{criterion.kind}]")
        label = f"[cyan]{criterion.id}[/cyan] {kind} {weight}: {escape(criterion.text)}"
        if criterion.provenance.source != "library":
            label += f" [dim]({criterion.provenance.source})[/dim]"
        child = node.add(label)
        for sub in criterion.children:
            add(child, sub)

    for criterion in rubric.criteria:
        add(tree, criterion)
    if rubric.dropped:
        dropped = tree.add("[dim]dropped[/dim]")
        for item in rubric.dropped:
            text = escape(item.criterion.text)
            dropped.add(f"[dim]{item.criterion.id} ({text}): {escape(item.reason)}[/dim]")
    if rubric.weighting:
        tree.add(f"[dim]weights: {escape(rubric.weighting)}[/dim]")
    return tree


def cache_line(cache: Any, hits: int | None = None, misses: int | None = None) -> str:
    """How the judgment cache served a run (default: all its lookups), or why it was off."""
    if cache is None:
        return "off"
    hits = cache.hits if hits is None else hits
    misses = cache.misses if misses is None else misses
    if not hits + misses and cache.told:
        return "not used: " + "; ".join(sorted(cache.told))
    if cache.broken is not None:
        return f"{hits} hits, {misses} misses; failed: {cache.broken}"
    return f"{hits} hits, {misses} misses ({cache.path})"


def batch_summary(progress: Any, output: Path, cache: Any = None) -> Table:
    """The closing table of a batch job: counts, failures by kind, tokens and speed."""
    table = Table("", "", title=f"batch job: {output}", show_header=False)
    rate = progress.done / progress.elapsed if progress.elapsed > 0 else 0.0
    mean = "n/a" if progress.mean_score is None else f"{progress.mean_score:.3f}"
    rows = [
        ("rows in shard", progress.total),
        ("done before (skipped)", progress.skipped),
        ("judged", progress.judged),
        ("failed judgments", progress.failed),
        ("bad rows", progress.bad_rows),
        *((f"  {kind}", n) for kind, n in sorted(progress.failures.items())),
        ("mean score", mean),
        (
            "tokens (prompt + completion)",
            f"{progress.usage.prompt_tokens} + {progress.usage.completion_tokens}",
        ),
        ("cached prompt tokens", progress.usage.cached_tokens),
        ("judgment cache", cache_line(cache, progress.cache_hits, progress.cache_misses)),
        ("time", f"{progress.elapsed:.1f} s ({rate:.1f} rows/s)"),
    ]
    for name, value in rows:
        table.add_row(name, escape(str(value)))
    return table


def print_strategy(judgment: Judgment) -> None:
    """One line on how a judgment was reasoned: strategy, route, self-consistency, Likert."""
    parts = [f"strategy {judgment.strategy}"]
    route = judgment.route
    if route is not None:
        shown = "n/a" if route.p_route is None else f"{route.p_route:.2f}"
        parts.append(f"route {route.route} (P={shown}, from {route.source})")
    if judgment.consistency is not None:
        consistency = judgment.consistency
        parts.append(f"{consistency.samples} samples, agreement {consistency.agreement:.2f}")
    if judgment.likert is not None and judgment.likert.expected is not None:
        parts.append(f"Likert {judgment.likert.expected:.2f} of {judgment.likert.scale}")
    console.print("  ".join(parts), highlight=False)


def print_pair(result: PairJudgment) -> None:
    """A pair judgment: P(A better), order consistency, winner and usage."""
    if result.error is not None or result.p_a is None:
        console.print(f"[red]failed[/red]: {escape(result.error or 'no verdict')}")
        return
    details = result.details
    if result.p_a_ab is not None and result.p_a_ba is not None:
        orders = f"A first {result.p_a_ab:.3f}, B first {result.p_a_ba:.3f}"
        console.print(f"P(A better) [bold]{result.p_a:.3f}[/bold] (swap-averaged: {orders})")
    elif result.margin is not None and result.strategy == "rubric":
        console.print(
            f"P(A better) [bold]{result.p_a:.3f}[/bold] (rubric margin {result.margin:+.3f})"
        )
    else:
        console.print(f"P(A better) [bold]{result.p_a:.3f}[/bold] ({result.strategy})")
    if result.consistent is True:
        console.print("orders: consistent (both orders prefer the same response)")
    elif result.consistent is False:
        console.print(
            f"orders: [yellow]FLIP[/yellow] (A first -> {result.winner_ab}, "
            f"B first -> {result.winner_ba}): the position decided, confidence halved"
        )
    else:
        reason = details.get("consistency") or details.get("note")
        console.print(f"orders: not applicable ({escape(str(reason))})")
    confidence = "unavailable" if result.confidence is None else f"{result.confidence:.2f}"
    winner = {"a": "A", "b": "B", "tie": "tie"}[result.winner or "tie"]
    usage = result.usage
    console.print(
        f"winner [bold]{winner}[/bold]  confidence {confidence}  method {result.strategy}  "
        f"model {result.model}  tokens {usage.prompt_tokens}+{usage.completion_tokens}"
        f" ({usage.cached_tokens} cached)",
        highlight=False,
    )


def print_summary(evaluation: Any, report: Path) -> None:
    """One line of an evaluation (n, accuracy, ECE) and where its report was written."""
    which = "of the combined verdict" if evaluation.kind == "pairwise" else "per verdict"
    line = f"{evaluation.name}: n={evaluation.n}, accuracy {which} {evaluation.accuracy:.3f}"
    if evaluation.calibration is not None:
        line += f", ECE {evaluation.calibration.ece.format()}"
    console.print(line)
    console.print(f"report written to {report}")


def print_result(title: str, result: Any) -> None:
    """A bias study result as a table of its scalar measures."""
    table = Table("measure", "value", title=title)
    for name, value in result:
        if value is None or isinstance(value, tuple | list):
            continue
        if isinstance(value, float):
            value = f"{value:.4f}"
        elif hasattr(value, "low"):  # an Interval: estimate [95% CI]
            value = value.format()
        table.add_row(name, str(value))
    console.print(table)


def print_tune(summary: Any, report: Path, config: Path) -> None:
    """`judge tune`: a row per configuration, the shared cost, the recommendation in words."""
    table = Table(
        "config",
        "grid values",
        f"{summary.metric} [95% CI]",
        "naive",
        "judge - naive [95% CI]",
        "tokens",
        "est. s",
        title=f"{summary.n} {summary.kind} items, {escape(summary.model)}",
    )
    for result in summary.configs:
        diff = result.difference
        chosen = result.name == summary.best and summary.recommendation == "judge"
        table.add_row(
            result.name,
            escape(result.label),
            result.quality.format(),
            "n/a" if result.naive_quality is None else f"{result.naive_quality:.3f}",
            "n/a" if diff is None or diff.value is None else diff.format(),
            str(result.cost.tokens),
            f"{result.cost.seconds:.1f}",
            style="green" if chosen else "",
        )
    console.print(table)
    shared = summary.shared
    console.print(
        f"this run: {shared.backend_calls} backend call(s), {shared.requests_sent} distinct "
        f"requests of {shared.requests_asked} asked",
        highlight=False,
    )
    if summary.recommendation == "naive":
        console.print(
            f"[yellow]recommendation: the naive baseline[/yellow]. {escape(summary.reason)}"
        )
    else:
        console.print(f"[green]recommendation: {summary.best}[/green]. {escape(summary.reason)}")
    console.print(f"report: {report}  config: {config}", highlight=False)
