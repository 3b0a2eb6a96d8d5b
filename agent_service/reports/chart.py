"""Hand-written SVG charts for the funnel and lost-stage reports (no plotting library)."""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.sax.saxutils import escape

from agent_service.schemas.reports import FunnelReport, LostReport

WIDTH, LABEL, BAR_H, GAP, TOP = 860, 190, 30, 14, 56
COLOURS = ("#2563eb", "#3b82f6", "#60a5fa", "#93c5fd", "#bfdbfe", "#dbeafe")
LOST_COLOURS = ("#b91c1c", "#dc2626", "#ef4444", "#f87171", "#fca5a5")


def _frame(title: str, subtitle: str, height: int, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif">',
            f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
            f'<text x="16" y="26" font-size="18" font-weight="bold">{escape(title)}</text>',
            f'<text x="16" y="44" font-size="12" fill="#555">{escape(subtitle)}</text>',
            *body,
            "</svg>",
        ]
    )


def _bars(
    items: list[tuple[str, int, str]], colours: tuple[str, ...], note_room: int = 140
) -> list[str]:
    biggest = max((n for _, n, _ in items), default=0) or 1
    room = WIDTH - LABEL - note_room  # what is left after the label and the figure
    body = []
    for i, (label, count, note) in enumerate(items):
        y = TOP + i * (BAR_H + GAP)
        width = max(2, round(room * count / biggest)) if count else 0
        colour = colours[min(i, len(colours) - 1)]
        body += [
            f'<text x="{LABEL - 10}" y="{y + BAR_H * 0.65:.0f}" font-size="13" '
            f'text-anchor="end">{escape(label)}</text>',
            f'<rect x="{LABEL}" y="{y}" width="{width}" height="{BAR_H}" fill="{colour}" rx="3"/>',
            f'<text x="{LABEL + width + 8}" y="{y + BAR_H * 0.65:.0f}" font-size="13">'
            f"{count:,}{escape(note)}</text>",
        ]
    return body


def _period(start: datetime | None, end: datetime | None) -> str:
    first = start.date().isoformat() if start else "the beginning"
    last = (end - timedelta(days=1)).date().isoformat() if end else "now"
    return f"{first} to {last}"


def funnel_svg(report: FunnelReport) -> str:
    items = []
    for stage in report.stages:
        note = f"  → {stage.conversion_rate:.0%} go on" if stage.conversion_rate is not None else ""
        items.append((stage.stage, stage.entered, note))
    height = TOP + len(items) * (BAR_H + GAP) + 10
    subtitle = f"Contacts entering each stage, {_period(report.meta.start, report.meta.end)}"
    return _frame("Lifecycle funnel", subtitle, height, _bars(items, COLOURS))


def lost_svg(report: LostReport) -> str:
    items = []
    for stage in report.by_stage:
        top = next((r for r in report.rows if r.stage == stage.stage), None)
        note = f"  (top reason: {top.reason[:45]})" if top else ""
        items.append((stage.stage, stage.count, note))
    height = TOP + max(1, len(items)) * (BAR_H + GAP) + 10
    period = _period(report.meta.start, report.meta.end)
    subtitle = f"Lost marks by stage, {period}; total {report.total:,}"
    return _frame("Lost leads", subtitle, height, _bars(items, LOST_COLOURS, note_room=450))
