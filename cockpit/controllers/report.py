"""The incident report written next to the journal once the incident is resolved.

``<journal>.report.md`` (Markdown, from :mod:`cockpit.report`) and, when the app took one,
the dashboard's SVG screenshot beside it as ``<journal>.dashboard.svg``, referenced by a
relative name so the report and its picture travel together.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cockpit.errors import CockpitError, ReadonlyError


def screenshot_path(report: Path) -> Path:
    """The dashboard screenshot that goes with ``report``."""
    return report.with_name(report.name.replace(".report.md", ".dashboard.svg"))


def write_report(journal_path: str | Path, records: list[dict], screenshot_svg: str | None = None) -> Path:
    """Write the report of ``records`` (and the screenshot) next to ``journal_path``; its path."""
    from cockpit.report import report_text

    base = Path(journal_path)
    out = base.with_suffix(".report.md")
    shot = None
    if screenshot_svg:
        svg = screenshot_path(out)
        svg.write_text(screenshot_svg, encoding="utf-8", newline="\n")
        shot = svg.name
    out.write_text(report_text(records, "md", screenshot=shot), encoding="utf-8", newline="\n")
    return out


class ReportWriter:
    """The operator's report of the open incident (a readonly observer writes none)."""

    def __init__(self, incident: Any) -> None:
        self.incident = incident

    @property
    def possible(self) -> bool:
        s = self.incident.session
        return s is not None and not s.readonly and s.journal is not None

    def write(self, screenshot_svg: str | None = None) -> Path:
        """*Thread.* The report of the open incident, from its journal as it is now."""
        s = self.incident.session
        if s is None or s.readonly:
            raise ReadonlyError("readonly: observers write no report")
        if s.journal is None:
            raise CockpitError("no incident is open", title="No incident", hint="the report is of an open incident")
        return write_report(s.journal_path, s.journal.read(), screenshot_svg)
