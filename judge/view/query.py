"""Server-side sort, filter and paging over a run's index (pyarrow compute), and its facets.

The browser asks for one page at a time; whatever the run's size, a page is at most `MAX_LIMIT`
rows of the index columns (never the texts), so the page stays light.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from judge.errors import ConfigError
from judge.view.runs import Run

MAX_LIMIT = 200
SORTABLE = ("i", "id", "score", "confidence")
FACETS = ("kind", "error_kind", "strategy", "route", "rubric", "reasoning", "winner", "label")
"""Columns filtered by exact value; ``error_kind`` also takes ``any`` (failed) and ``none``."""
LIST_COLUMNS = (
    *("i", "id", "kind", "score", "confidence", "error_kind", "capped", "strategy"),
    *("route", "rubric", "reasoning", "winner", "flip", "label"),
)


@dataclass(frozen=True)
class Query:
    """One page request: filters, a sort and a window."""

    text: str = ""
    facets: tuple[tuple[str, str], ...] = ()
    capped: bool | None = None
    flip: bool | None = None
    labelled: bool | None = None
    score_min: float | None = None
    score_max: float | None = None
    confidence_min: float | None = None
    confidence_max: float | None = None
    sort: str = "i"
    descending: bool = False
    offset: int = 0
    limit: int = 50

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Query:
        """Read a query from URL parameters; a bad value is refused with its name."""

        def number(name: str) -> float | None:
            text = params.get(name, "").strip()
            if not text:
                return None
            try:
                return float(text)
            except ValueError:
                raise ConfigError(f"{name}={text!r} is not a number") from None

        def boolean(name: str) -> bool | None:
            text = params.get(name, "").strip().lower()
            if text in ("", "all"):
                return None
            if text not in ("yes", "no"):
                raise ConfigError(f"{name}={text!r}", hint="yes, no or all")
            return text == "yes"

        sort = params.get("sort", "i") or "i"
        if sort not in SORTABLE:
            raise ConfigError(f"sort={sort!r}", hint="one of " + ", ".join(SORTABLE))
        try:
            offset = max(0, int(params.get("offset", "0") or 0))
            limit = min(MAX_LIMIT, max(1, int(params.get("limit", "50") or 50)))
        except ValueError:
            raise ConfigError("offset and limit must be integers") from None
        facets = tuple((name, params[name]) for name in FACETS if params.get(name, "") != "")
        return cls(
            text=params.get("q", "").strip(),
            facets=facets,
            capped=boolean("capped"),
            flip=boolean("flip"),
            labelled=boolean("labelled"),
            score_min=number("score_min"),
            score_max=number("score_max"),
            confidence_min=number("confidence_min"),
            confidence_max=number("confidence_max"),
            sort=sort,
            descending=params.get("order", "asc") == "desc",
            offset=offset,
            limit=limit,
        )


DENSE_SHARE = 0.05
"""A search that matches more than this share of the rows goes on with pyarrow's kernel."""


def text_matches(run: Run, needle: str) -> Any:
    """The rows whose search text holds `needle` (lower-cased), as a boolean array.

    `bytes.find` over the text column's one buffer skips from match to match, several times
    faster than a per-row kernel when few rows match (the usual search); once the matches are
    many, the per-row loop would cost more, so pyarrow's `match_substring` answers instead.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    data, offsets = run.search_buffer()
    pattern = needle.encode("utf-8")
    hits = np.zeros(len(offsets) - 1, dtype=bool)
    limit, found, position = max(1, int(DENSE_SHARE * len(hits))), 0, 0
    while (position := data.find(pattern, position)) >= 0:
        row = int(np.searchsorted(offsets, position, side="right")) - 1
        end = int(offsets[row + 1])
        if position + len(pattern) > end:  # runs into the next row's text: not a match
            position = end
            continue
        hits[row], found, position = True, found + 1, end
        if found > limit:
            return pc.match_substring(run.index.column("text"), needle)
    return pa.array(hits)


def _mask(run: Run, request: Query, labelled_ids: Collection[str]) -> Any:
    """The rows the filters keep (a boolean array), or None when nothing is filtered."""
    import pyarrow as pa
    import pyarrow.compute as pc

    table = run.index
    conditions = []
    if request.text:
        conditions.append(text_matches(run, request.text.lower()))
    for name, value in request.facets:
        column = table.column(name)
        if name == "error_kind" and value == "any":
            conditions.append(pc.is_valid(column))
        elif value == "none":
            conditions.append(pc.is_null(column))
        else:
            conditions.append(pc.equal(column, value))
    if request.capped is not None:
        conditions.append(pc.equal(table.column("capped"), request.capped))
    if request.flip is not None:
        conditions.append(pc.equal(table.column("flip"), request.flip))
    if request.labelled is not None:
        found = pc.is_in(table.column("id"), value_set=pa.array(sorted(labelled_ids), pa.string()))
        conditions.append(found if request.labelled else pc.invert(found))
    bounds = (
        ("score", request.score_min, pc.greater_equal),
        ("score", request.score_max, pc.less_equal),
        ("confidence", request.confidence_min, pc.greater_equal),
        ("confidence", request.confidence_max, pc.less_equal),
    )
    for name, bound, compare in bounds:
        if bound is not None:
            conditions.append(compare(table.column(name), bound))
    mask = None
    for condition in conditions:
        condition = pc.fill_null(condition, False)
        mask = condition if mask is None else pc.and_(mask, condition)
    return mask


def query(run: Run, request: Query, labelled_ids: Collection[str] = ()) -> dict[str, Any]:
    """One page of the run's index: ``{"total", "offset", "rows"}`` (rows: `LIST_COLUMNS`)."""
    import pyarrow.compute as pc

    mask = _mask(run, request, labelled_ids)
    listed = run.index.select(list(LIST_COLUMNS))  # the texts are searched, never copied
    selected = listed if mask is None else listed.filter(mask)
    total = selected.num_rows
    if request.sort != "i" or request.descending:
        order = "descending" if request.descending else "ascending"
        keys = [(request.sort, order, "at_end"), ("i", "ascending", "at_end")]
        indices = pc.sort_indices(selected, sort_keys=keys)
        window = indices[request.offset : request.offset + request.limit]
        page = selected.take(window)
    else:
        page = selected.slice(request.offset, request.limit)
    rows = page.to_pylist()
    labelled = set(labelled_ids)
    for row in rows:
        row["labelled"] = row["id"] in labelled
    return {"total": total, "offset": request.offset, "rows": rows}


def facets(run: Run) -> dict[str, Any]:
    """The values each facet takes in the run, with counts, most common first."""
    import pyarrow.compute as pc

    found: dict[str, Any] = {}
    for name in FACETS:
        counts = pc.value_counts(run.index.column(name)).to_pylist()
        values = [(c["values"], c["counts"]) for c in counts if c["values"] is not None]
        found[name] = [[v, n] for v, n in sorted(values, key=lambda item: (-item[1], item[0]))]
    found["capped"] = int(pc.sum(run.index.column("capped")).as_py() or 0)
    found["flip"] = int(pc.sum(run.index.column("flip")).as_py() or 0)
    return found
