"""Ray for the batch engine: imported on use, a quiet local start, feasible pools, plain errors.

What made the first attempt hang for 300 s on 2 CPUs with an empty log: its two scoring actors
took one CPU each, so the tasks feeding them (a numbering ``range`` + ``zip``) waited for a CPU
forever ("Active & requested resources: 4/2 CPU" in ``ray-data.log``). Here read tasks take no
CPU slot (`judge.batch.ray_source`), and a pool that cannot fit the cluster is refused before it
is asked for. A judge error raised in an actor reaches the driver only as the text of a Ray error
(its class and hint are lost on the way), so a job's actors report it as a value (`reported`)
and the driver raises it as itself (`raise_reported`): one line, with its hint and exit code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from judge.batch.ray_reaper import start_reaper, stop_reaper
from judge.errors import ConfigError, JudgeError

logger = logging.getLogger(__name__)


def ray_module() -> Any:
    """The ``ray`` module, or a one-line error saying how to install it."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise ConfigError(
            "the ray engine needs Ray Data, which is not installed",
            hint="pip install 'rubric-judge[ray]'",
        ) from None
    return ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Connect to `address` (a running cluster) or start a local one.

    A cluster this started is shut down on exit, and its processes are ended even if this process
    is killed (`judge.batch.ray_reaper`); one that was already connected is left as it was. The
    Ray Data context options and Ray's logger level this sets for the job are put back on exit:
    the host process (a notebook, a trainer) keeps its own.
    """
    ray = ray_module()
    ray_logger = logging.getLogger("ray")
    ray_level = ray_logger.level
    started = not ray.is_initialized()
    reaper = None
    if started:
        # A local instance is this process's own: its reaper ends it even if this process is
        # killed with no chance to shut it down (`judge.batch.ray_reaper`).
        reaper = start_reaper() if address is None else None
        try:
            ray.init(
                address=address,
                num_cpus=num_cpus if address is None else None,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        except (ConnectionError, ValueError, RuntimeError) as exc:
            stop_reaper(reaper)
            raise ConfigError(
                f"cannot reach the Ray cluster at {address}: {exc}".splitlines()[0],
                hint="start it (ray start --head) or leave --ray-address out for a local one",
            ) from None
    context = ray.data.DataContext.get_current()
    options = context.execution_options
    saved = (context.enable_progress_bars, context.print_on_execution_start, options.preserve_order)
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    # Rows arrive in source order, so progress and files follow the input.
    options.preserve_order = True
    try:
        yield ray
    finally:
        context.enable_progress_bars, context.print_on_execution_start = saved[:2]
        options.preserve_order = saved[2]
        if started:
            ray.shutdown()
            stop_reaper(reaper)
        ray_logger.setLevel(ray_level)


def check_pool(ray: Any, replicas: int, cpus: float, gpus: float) -> None:
    """Refuse a pool the cluster cannot hold now (Ray would wait for it forever)."""
    if replicas < 1:
        raise ConfigError(f"replicas {replicas} < 1", hint="give 1 or more")
    if cpus < 0 or gpus < 0:
        raise ConfigError("CPUs and GPUs per replica must be >= 0", hint="e.g. --replica-cpus 1")
    have = ray.cluster_resources()
    for name, each in (("CPU", cpus), ("GPU", gpus)):
        need = replicas * each
        if need > have.get(name, 0.0) + 1e-9:
            raise ConfigError(
                f"{replicas} replicas x {each:g} {name} = {need:g} {name}, but the Ray cluster "
                f"has {have.get(name, 0.0):g}",
                hint=f"use fewer --replicas, or a smaller --replica-{name.lower()}s",
            )


def unwrap(exc: BaseException) -> BaseException:
    """The judge error inside a Ray error (an actor's or task's exception), else `exc`."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        # A RayTaskError is also an instance of its cause's class, but its text is a remote
        # traceback: the original exception (`cause`) is the one-line error to show.
        cause = getattr(current, "cause", None)
        if isinstance(cause, BaseException):
            current = cause
            continue
        if isinstance(current, JudgeError):
            return current
        current = current.__cause__ or current.__context__
    return exc


def reported(failure: JudgeError) -> str:
    """A judge error as text an actor can return (Ray passes a raised one on only as text)."""
    return json.dumps(
        {"type": type(failure).__name__, "message": failure.message, "hint": failure.hint}
    )


def raise_reported(text: str) -> None:
    """Raise the judge error an actor `reported` (same class, message and hint)."""
    from judge import errors

    failure = json.loads(text)
    kind = getattr(errors, str(failure.get("type")), JudgeError)
    if not (isinstance(kind, type) and issubclass(kind, JudgeError)):
        kind = JudgeError
    raise kind(str(failure.get("message")), hint=failure.get("hint"))
