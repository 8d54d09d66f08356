"""The judgment viewer (`judge view`): read-only queries over outputs, labels, a static bundle.

`open_run` reads what `judge` writes (judgments JSONL, batch outputs in JSONL or Parquet, Ray
output folders, eval and probe report folders) into a `Run`: a small index of the columns people
sort and filter by, kept on the server, and the full records read one at a time. `query` pages,
sorts and filters that index; `LabelStore` appends a person's labels beside the run;
`serve_view` serves the page (standard library HTTP, loopback by default) and `write_bundle`
writes the same page as a static site.
"""

from judge.view.labels import LabelStore, labels_path, read_labels
from judge.view.query import Query, query
from judge.view.runs import Run, open_run

__all__ = ["LabelStore", "Query", "Run", "labels_path", "open_run", "query", "read_labels"]
