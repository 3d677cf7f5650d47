"""A digest's Markdown, HTML and chart pictures.

Charts are PNG (matplotlib, headless): mail clients show PNG and few show SVG. Drawing takes tens
of milliseconds and blocks, so the job calls `charts` in a worker thread.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from gateway.digest.facts import THIRD_LINE, DigestFacts
from gateway.ticket.enums import Priority

TEMPLATES = Path(__file__).resolve().parent / "templates"
CHARTS = ("week", "open")
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>])")


def _md(text: str) -> str:
    """Escape Markdown so a ticket subject cannot add links or markup."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


_markdown = SandboxedEnvironment(
    loader=FileSystemLoader(str(TEMPLATES)), undefined=StrictUndefined, autoescape=False
)
_markdown.filters["md"] = _md
_html = SandboxedEnvironment(
    loader=FileSystemLoader(str(TEMPLATES)),
    undefined=StrictUndefined,
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def title(facts: DigestFacts) -> str:
    if facts.scope == THIRD_LINE:
        return f"{facts.unit}: tickets passed to the third line, week of {facts.week_start}"
    return f"{facts.unit}: weekly digest, week of {facts.week_start}"


def documents(facts: DigestFacts, chart_urls: dict[str, str]) -> tuple[str, str]:
    """The Markdown and the HTML, with the charts at `chart_urls`."""
    if facts.scope == THIRD_LINE:
        sections = [
            ("Open at the third line", facts.passed),
            ("Likely to hit many users", facts.wide),
            ("ETAs due next week", facts.etas_next_week),
            ("Expired ETAs", facts.etas_expired),
        ]
    else:
        sections = [
            ("Likely to hit many users", facts.wide),
            ("ETAs due next week", facts.etas_next_week),
            ("Expired ETAs", facts.etas_expired),
            ("Requirements opened", facts.requirements),
        ]
    context = {
        "title": title(facts),
        "f": facts,
        "s": facts.summary(),
        "last_day": facts.week_end - timedelta(days=1),
        "charts": chart_urls,
        "sections": sections,
    }
    markdown = _markdown.get_template("digest.md").render(context)
    html = _html.get_template("digest.html").render({**context, "title": title(facts)})
    return markdown, html


def charts(facts: DigestFacts) -> dict[str, bytes]:
    """The week's tickets per day, and the open tickets by priority, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    out: dict[str, bytes] = {}
    week = Figure(figsize=(6, 2.6), dpi=100)
    axes = week.subplots()
    positions = range(len(DAYS))
    axes.bar([p - 0.2 for p in positions], facts.assigned_per_day, 0.4, label="assigned")
    axes.bar([p + 0.2 for p in positions], facts.solved_per_day, 0.4, label="solved")
    axes.set_xticks(list(positions), DAYS)
    axes.set_title("Tickets this week")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(frameon=False)
    week.tight_layout()
    out["week"] = _png(week)

    opened = Figure(figsize=(6, 2.2), dpi=100)
    axes = opened.subplots()
    names = [p.value for p in Priority]
    axes.barh(names, [facts.open_by_priority.get(n, 0) for n in names], color="#c0504d")
    axes.set_title("Open tickets by priority")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    opened.tight_layout()
    out["open"] = _png(opened)
    return out


def _png(figure: object) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")  # type: ignore[attr-defined]
    return buffer.getvalue()
