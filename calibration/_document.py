"""A tiny document model for reports: headings, paragraphs, tables, images -> Markdown or HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True)
class _Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class _Paragraph:
    text: str


@dataclass(frozen=True)
class _Bullets:
    items: list[str]


@dataclass(frozen=True)
class _Table:
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class _Image:
    name: str
    alt: str


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


_Block = _Heading | _Paragraph | _Bullets | _Table | _Image


@dataclass
class Document:
    """Headings, paragraphs, tables and images, rendered to Markdown or HTML."""

    blocks: list[_Block] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(_Heading(text, level))

    def paragraph(self, text: str) -> None:
        self.blocks.append(_Paragraph(text))

    def bullets(self, items: list[str]) -> None:
        self.blocks.append(_Bullets(items))

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.blocks.append(_Table(header, rows))

    def image(self, name: str, alt: str) -> None:
        self.blocks.append(_Image(name, alt))

    def markdown(self) -> str:
        out: list[str] = []
        for block in self.blocks:
            if isinstance(block, _Heading):
                out.append(f"{'#' * block.level} {block.text}\n")
            elif isinstance(block, _Paragraph):
                out.append(f"{block.text}\n")
            elif isinstance(block, _Bullets):
                out.append("".join(f"- {item}\n" for item in block.items))
            elif isinstance(block, _Table):
                lines = [_md_row(block.header), "|" + "---|" * len(block.header)]
                lines += [_md_row(row) for row in block.rows]
                out.append("\n".join(lines) + "\n")
            else:
                out.append(f"![{block.alt}]({block.name})\n")
        return "\n".join(out)

    def html(self, title: str) -> str:
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{html.escape(title)}</title>",
            "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;"
            "padding:.2em .6em}th{background:#f4f4f4}img{max-width:100%}</style>",
            "</head><body>",
        ]
        for block in self.blocks:
            if isinstance(block, _Heading):
                out.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
            elif isinstance(block, _Paragraph):
                out.append(f"<p>{html.escape(block.text)}</p>")
            elif isinstance(block, _Bullets):
                items = "".join(f"<li>{html.escape(item)}</li>" for item in block.items)
                out.append(f"<ul>{items}</ul>")
            elif isinstance(block, _Table):
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
                cells = "".join(
                    "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
                    for row in block.rows
                )
                out.append(f"<table><tr>{head}</tr>{cells}</table>")
            else:
                name, alt = html.escape(block.name), html.escape(block.alt)
                out.append(f'<p><img src="{name}" alt="{alt}"></p>')
        out.append("</body></html>")
        return "\n".join(out) + "\n"
