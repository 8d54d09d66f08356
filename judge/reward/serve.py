"""An HTTP reward server (`judge serve`): OpenRLHF's remote reward-model protocol and `/score`.

OpenRLHF (``--reward.remote_url``, formerly ``--remote_rm_url``) posts one sample per request:
``{"query": [prompt + response], "prompts": [prompt], "labels": [label]}`` and reads
``{"rewards": [...], "scores": [...], "extra_logs": {...}}``. A judge is worth running only on
batches, so concurrent requests are coalesced by the reward's worker thread into shared backend
calls (`judge.reward.microbatch`); when its bounded queue is full, or a request's deadline
(the reward's ``timeout_s``) passes, the server answers 503 with ``Retry-After`` (OpenRLHF
retries), never a reward it did not judge (`judge.reward.overload`). Loopback only by default; a
bearer token guards the rest.
"""

import asyncio
import hmac
import ipaddress
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from judge.errors import BackendUnavailableError, InputError
from judge.reward.inputs import Invalid, RewardItem, build_item, parse_rendered_prompt, split_query
from judge.reward.overload import DEFAULT_MAX_BODY_BYTES, BodyLimit, ServerHealth
from judge.reward.rubric_reward import RewardBatch, RubricReward
from judge.types import ErrorKind, Judgment, Sample

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)

# End-of-turn markers that decoding with special tokens leaves after a response.
DEFAULT_END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>")


class OpenRLHFRequest(BaseModel):
    """OpenRLHF's remote reward request (fields it may add later are ignored)."""

    model_config = ConfigDict(extra="ignore")

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


class ScoreRequest(BaseModel):
    """A `/score` request: samples as `Sample` objects, validated one by one."""

    model_config = ConfigDict(extra="forbid")

    samples: list[Any]


def _fraction(value: float | None) -> float:
    return 0.0 if value is None else min(1.0, max(0.0, value))


def openrlhf_items(request: OpenRLHFRequest, end_markers: Sequence[str]) -> list[RewardItem]:
    """Samples from an OpenRLHF request; the response is the query minus its prompt."""
    items: list[RewardItem] = []
    for index, query in enumerate(request.query):
        prompt = (
            request.prompts[index] if request.prompts and index < len(request.prompts) else None
        )
        label = request.labels[index] if request.labels and index < len(request.labels) else None
        try:
            response = split_query(query, prompt, end_markers)
        except InputError as exc:
            items.append(Invalid(f"item {index}: {exc.message}"))
            continue
        fields = parse_rendered_prompt(prompt) if prompt else None
        if fields is None:
            items.append(Invalid(f"item {index}: no prompt (send 'prompts' with the queries)"))
            continue
        items.append(build_item(str(index), fields, response, label, None))
    return items


def openrlhf_response(reward: RubricReward, batch: RewardBatch) -> dict[str, Any]:
    """Rewards (shaped), scores in [0, 1], and per-item logs with the same keys every time.

    OpenRLHF averages every ``extra_logs`` column over all samples and cannot take a null, so a
    failed item's judge score or P(yes) would enter that mean as some number. Instead the logs
    carry ``judge_judged`` (1/0) and the scores multiplied by it: the mean score of the judged
    items is mean(``judge_score_x_judged``) / mean(``judge_judged``), and failures are counted by
    ``judge_failed`` alone.
    """
    failure_value = None if isinstance(reward.on_error, str) else float(reward.on_error)
    judged = [float(o.error is None and o.score is not None) for o in batch.outcomes]
    extra_logs: dict[str, list[float]] = {
        "judge_failed": [float(o.error is not None) for o in batch.outcomes],
        "judge_judged": judged,
        "judge_score_x_judged": [
            _fraction(o.score) * ok for o, ok in zip(batch.outcomes, judged, strict=True)
        ],
    }
    for criterion in reward.rubric.leaves():
        column = []
        for outcome, ok in zip(batch.outcomes, judged, strict=True):
            p_yes = None
            if isinstance(outcome.judgment, Judgment) and ok:
                p_yes = next(
                    (v.p_yes for v in outcome.judgment.verdicts if v.criterion_id == criterion.id),
                    None,
                )
            column.append(_fraction(p_yes) * ok)
        extra_logs[f"p_yes_x_judged/{criterion.id}"] = column
    scores = [
        o.score
        if o.score is not None
        else (None if failure_value is None else _fraction(failure_value))
        for o in batch.outcomes
    ]
    return {"rewards": batch.rewards, "scores": scores, "extra_logs": extra_logs}


def create_app(
    reward: RubricReward,
    *,
    token: str | None = None,
    end_markers: Sequence[str] = DEFAULT_END_MARKERS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> "FastAPI":
    """The FastAPI app: ``POST /get_reward`` (OpenRLHF), ``POST /score``, ``GET /health``."""
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="judge reward server", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    health_stats = ServerHealth()
    retry_after = {"Retry-After": "1"}

    async def judged(items: list[RewardItem]) -> RewardBatch:
        """The batch, or 503 when the queue is full or the deadline passed (never a reward)."""
        started = time.monotonic()
        try:
            batch = await reward.ascore_items(items, coalesce=True, refuse_when_full=True)
        except BackendUnavailableError:
            health_stats.refusal()
            raise
        # A judgment the backend stopped at the deadline is a timeout too, never a reward.
        timeouts = (ErrorKind.TIMEOUT.value, f"judge_{ErrorKind.TIMEOUT.value}")
        if any(o.error_kind in timeouts for o in batch.outcomes):
            health_stats.timed_out()
            raise HTTPException(
                503, f"no judgment within the deadline ({reward.timeout_s} s)", retry_after
            )
        health_stats.answered(time.monotonic() - started)
        return batch

    def authorize(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else None
        # OpenRLHF cannot send headers: it may put the token in the URL instead.
        given = given or request.query_params.get("access_token")
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"}
            )

    Auth = Annotated[None, Depends(authorize)]

    @app.exception_handler(BackendUnavailableError)
    async def _overloaded(request: Request, exc: BackendUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers=retry_after)

    @app.post("/get_reward")
    async def get_reward(body: OpenRLHFRequest, _: Auth) -> dict[str, Any]:
        return openrlhf_response(reward, await judged(openrlhf_items(body, end_markers)))

    @app.post("/score")
    async def score(body: ScoreRequest, _: Auth) -> dict[str, Any]:
        items: list[RewardItem] = []
        for index, raw in enumerate(body.samples):
            try:
                items.append(Sample.model_validate(raw))
            except ValidationError as exc:
                items.append(Invalid(f"samples[{index}]: {exc.errors()[0]['msg']}"))
        batch = await judged(items)
        return {
            "rewards": batch.rewards,
            "judgments": [
                o.judgment.model_dump(mode="json") if o.judgment is not None else None
                for o in batch.outcomes
            ],
            "errors": [o.error for o in batch.outcomes],
        }

    @app.get("/health")
    async def health(_: Auth) -> dict[str, Any]:
        worker = reward.worker()
        queued = worker.queued_items
        status = health_stats.status(queued, worker.max_queue)
        # The servers behind the backend (a router's lost worker among them), probed now.
        serving = await asyncio.to_thread(reward.serving_health)
        if serving is not None and not serving.healthy and status == "ok":
            status = "degraded"
        return {
            "status": status,
            "backend": None if serving is None else serving.model_dump(mode="json"),
            "reward": reward.__name__,
            "rubric": reward.rubric.name,
            "queued": queued,
            "max_queue": worker.max_queue,
            "batches": worker.stats.batches,
            "items": worker.stats.items,
            "refused": worker.stats.refused,
            "timeouts": health_stats.timeouts,
            "p95_latency_s": health_stats.p95_s(),
            "failures": dict(reward.failure_counts),
            "cache": reward.cache.counts() if reward.cache is not None else None,
        }

    return app


def is_loopback(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    reward: RubricReward,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str | None = None,
    end_markers: Sequence[str] = DEFAULT_END_MARKERS,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> None:
    """Run the reward server until interrupted (loads the judge first, so requests never wait)."""
    import uvicorn

    if not is_loopback(host) and token is None:
        logger.warning(
            "serving on %s without a token: anyone who reaches it can use the judge", host
        )
    _ = reward.judge
    app = create_app(reward, token=token, end_markers=end_markers, max_body_bytes=max_body_bytes)
    try:
        # No access log: a token passed in the URL would be written to it.
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        reward.close()
