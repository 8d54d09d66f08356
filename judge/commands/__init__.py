"""The commands of the `judge` CLI: option parsing, a call into the library, Rich output.

Only this package and the top-level ``cli.py`` (the Typer root that registers these commands)
import typer and rich.
"""
