"""Task routing for the auto strategy: objective tasks get depth, subjective tasks get breadth.

Mix-GRM found that the judge's reasoning must fit the task: breadth (many principles, a short
check each) wins on subjective preference tasks, depth (solve first, then verify the critical
points) on objective correctness, and the wrong one costs 2-3 points. A routing request asks
the judge itself, under a constrained choice, and reads P(route) from the token distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from judge.errors import VerdictParseError
from judge.runner.formats import route_format
from judge.types import Generation, RouteChoice

Route = Literal["objective", "subjective"]
RouteSource = Literal["rubric", "model", "fallback"]

STRATEGY_FOR_ROUTE: dict[Route, str] = {"objective": "depth", "subjective": "breadth"}
FALLBACK_ROUTE: Route = "subjective"
"""Where a sample goes when routing fails: breadth judges every criterion and needs no solution."""


@dataclass(frozen=True)
class RouteDecision:
    """The route of one sample, P(route) when the backend reads token probabilities, and why."""

    route: Route
    p_route: float | None
    source: RouteSource
    probabilities: dict[str, float] | None = None
    note: str | None = None

    @property
    def strategy(self) -> str:
        """The strategy this route selects."""
        return STRATEGY_FOR_ROUTE[self.route]

    def as_choice(self) -> RouteChoice:
        """The decision as the judgment's typed `route` field."""
        return RouteChoice(
            route=self.route,
            p_route=self.p_route,
            source=self.source,
            probabilities=self.probabilities,
            note=self.note,
        )


def route_error(generation: Generation) -> str | None:
    """Why a routing output is unusable (None when a route can be read from it)."""
    if generation.error is not None:
        return generation.error
    try:
        route_format().parse(generation.text)
    except VerdictParseError as exc:
        return exc.message
    return None


def _normalised(probabilities: dict[str, float] | None) -> dict[str, float] | None:
    if probabilities is None:
        return None
    mass = {route: probabilities.get(route, 0.0) for route in ("objective", "subjective")}
    total = sum(mass.values())
    return {route: value / total for route, value in mass.items()} if total > 0 else None


def read_route(generation: Generation) -> RouteDecision:
    """The route the judge chose: its written answer, with P(answer) from token probabilities.

    Without probabilities the written answer stands with ``p_route = None``; without a readable
    answer the token probabilities decide; with neither the sample falls back to breadth.
    """
    probabilities = _normalised(generation.choice_probs)
    error = route_error(generation)
    if error is None:
        answer, _ = route_format().parse(generation.text)
        route: Route = "objective" if answer == "objective" else "subjective"
        p_route = probabilities[route] if probabilities is not None else None
        return RouteDecision(route, p_route, "model", probabilities)
    if probabilities is not None:
        route = (
            "objective"
            if probabilities["objective"] >= probabilities["subjective"]
            else "subjective"
        )
        return RouteDecision(
            route, probabilities[route], "model", probabilities, note=f"answer unreadable: {error}"
        )
    return RouteDecision(
        FALLBACK_ROUTE, None, "fallback", None, note=f"routing failed ({error}); breadth used"
    )
