"""The order in which server backends send prefix groups, so a prefix cache is warm for siblings.

A continuous-batching engine looks up its prefix cache when it schedules a request: where
siblings that arrive together, before any of them has been prefilled, each compute the shared
prefix again, a group's first request should go alone and the rest follow once it is done (the
SGLang backends send a ``max_new_tokens=0`` warm-up of the prefix for the same reason), while
the first requests of all groups run at once to keep the engine fed. vLLM 0.32's CPU build does
not need it (it shares the blocks of requests scheduled in the same step); it costs one wave.
Worth it only when the first request is short: the OpenAI backend orders scored (one-token)
requests this way, and sends requests that decode a rationale all at once (a decoding leader
holds its siblings back for its whole decode; figures in benchmarks/README.md and LOG.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import TypeVar

Result = TypeVar("Result")


def group_positions(keys: Sequence[str | None]) -> list[tuple[str | None, tuple[int, ...]]]:
    """Positions grouped by prefix key, groups in order of first appearance; None stands alone."""
    members: dict[str, list[int]] = {}
    order: list[tuple[str | None, list[int]]] = []
    for position, key in enumerate(keys):
        if key is None:
            order.append((None, [position]))
        elif key in members:
            members[key].append(position)
        else:
            members[key] = [position]
            order.append((key, members[key]))
    return [(key, tuple(positions)) for key, positions in order]


def run_leaders_first(
    pool: Executor,
    jobs: Sequence[Callable[[], Result]],
    keys: Sequence[str | None],
) -> list[Result]:
    """Run `jobs` on `pool`, each group's first job before its others; results in job order.

    The first job of every group is submitted at once; when one finishes, the rest of its group
    is submitted. Jobs return their failures as values (the batch contract), so a failed first
    job still releases its siblings.
    """
    if len(jobs) != len(keys):
        raise ValueError(f"{len(jobs)} jobs but {len(keys)} prefix keys")
    futures: dict[int, Future[Result]] = {}
    waiting: dict[Future[Result], tuple[int, ...]] = {}
    for _, positions in group_positions(keys):
        leader = pool.submit(jobs[positions[0]])
        futures[positions[0]] = leader
        waiting[leader] = positions[1:]
    while waiting:
        done, _ = wait(waiting, return_when=FIRST_COMPLETED)
        for leader in done:
            for position in waiting.pop(leader):
                futures[position] = pool.submit(jobs[position])
    return [futures[position].result() for position in range(len(jobs))]
