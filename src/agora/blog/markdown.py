"""Markdown to HTML that is safe to show: markdown-it renders, nh3 (Ammonia) sanitizes."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

# CommonMark with raw HTML allowed in the source: nh3 strips what is unsafe afterwards,
# so harmless inline HTML (<sub>, <kbd>) survives and <script>/on* handlers never do.
_renderer = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


def render_markdown(source: str) -> str:
    return nh3.clean(_renderer.render(source), link_rel="noopener noreferrer nofollow")
