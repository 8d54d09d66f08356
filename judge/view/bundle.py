"""`judge view --bundle DIR`: the viewer as a static, read-only site that opens from disk.

The page is the same; its data (each run's index and records, the plots, the comparison) is
written into ``static/bundle-data.js`` as one JSON value, and the queries run in the browser on
that copy. Meant for sharing a run of a size a browser holds (thousands of judgments, not a
hundred thousand); labels stay with the served viewer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judge.errors import ConfigError
from judge.storage import write_atomic
from judge.view import stats
from judge.view.labels import LabelStore, labels_path
from judge.view.query import LIST_COLUMNS, facets
from judge.view.server import ASSETS, CSP, asset, open_viewer, rubric_criteria

MAX_BUNDLE_ROWS = 20_000


def _run_data(run: Any, store: LabelStore) -> dict[str, Any]:
    rows = run.index.select([*LIST_COLUMNS, "text"]).to_pylist()
    for row in rows:
        row["labelled"] = False
    records = [run.record(position) for position in range(len(run))]
    return {
        "rows": rows,
        "records": records,
        "rubrics": [rubric_criteria(record) for record in records],
        "plots": stats.plots(run, store.labels().values()),
    }


def write_bundle(paths: Sequence[Path], folder: Path) -> Path:
    """Write the static site for one or two runs into `folder`; return its index.html."""
    viewer = open_viewer(paths, read_only=True)
    too_big = [run.name for run in viewer.runs if len(run) > MAX_BUNDLE_ROWS]
    if too_big:
        raise ConfigError(
            f"{', '.join(too_big)}: more than {MAX_BUNDLE_ROWS} judgments for a static bundle",
            hint="serve it with judge view (it pages on the server), or bundle a filtered file",
        )
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--bundle {folder} is a file", hint="give a folder path")
    (folder / "static").mkdir(parents=True, exist_ok=True)
    meta = {**viewer.meta(), "writable": False}
    data = {
        "meta": meta,
        "runs": [
            _run_data(run, labels) for run, labels in zip(viewer.runs, viewer.stores, strict=True)
        ],
        "compare": stats.compare(*viewer.runs) if len(viewer.runs) == 2 else None,
    }
    for run in meta["runs"]:
        run["facets"] = facets(viewer.runs[meta["runs"].index(run)])
        run["labels"] = str(labels_path(Path(run["path"])).name)
        run["path"] = Path(run["path"]).name  # a shared copy does not show the local folders
    payload = json.dumps(data, ensure_ascii=True, allow_nan=False, default=str)
    write_atomic(folder / "static" / "bundle-data.js", f"window.JUDGE_BUNDLE = {payload};\n")
    for name in ASSETS:
        if name not in ("bundle-data.js", "index.html"):
            write_atomic(folder / "static" / name, asset(name))
    page = asset("index.html").decode("utf-8")
    # A <meta> policy cannot hold frame-ancestors (browsers ignore it there, with a warning).
    policy = CSP.replace("; frame-ancestors 'none'", "").replace("'self'", "'self' file:")
    page = page.replace(
        '<meta charset="utf-8">',
        f'<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="{policy}">',
    )
    write_atomic(folder / "index.html", page)
    return folder / "index.html"
