"""The sync page's chart of its last runs, as inline SVG drawn on the server.

No chart library and no script: the page's CSP allows no inline script, and an SVG of a few
dozen rectangles is all a run history needs. Bars are records per run: accepted, then rejected
by CleverTap, then invalid (null or duplicate keys, never sent) stacked on top, each its own
colour, as every page keeps invalid and rejected apart; a line gives each run's duration on its
own scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

__all__ = ["runs_chart"]

_W, _H = 640, 200
_LEFT, _RIGHT, _TOP, _BOTTOM = 48, 48, 12, 28
_SENT, _REJECTED, _INVALID, _DURATION = "#2456d6", "#d92d20", "#f79009", "#667085"


def _num(run: Mapping[str, Any], key: str) -> float:
    value = run.get(key)
    return float(value) if isinstance(value, int | float) else 0.0


def runs_chart(runs: Sequence[Mapping[str, Any]]) -> str:
    """SVG markup for ``runs`` (oldest first): each a run dict with ``id``, ``accepted``,
    ``rejected``, ``invalid`` and ``duration_s``. Empty string when there is no run."""
    if not runs:
        return ""
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    totals = [_num(r, "accepted") + _num(r, "rejected") + _num(r, "invalid") for r in runs]
    top = max(max(totals), 1.0)
    longest = max(max(_num(r, "duration_s") for r in runs), 0.001)
    slot = plot_w / max(len(runs), 8)  # a few runs stay narrow bars, not wide blocks
    bar = max(2.0, min(slot * 0.6, 36.0))
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {_W} {_H}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>Last {len(runs)} runs: records (accepted, rejected, invalid) and duration</title>",
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_W - _RIGHT}" y2="{_TOP + plot_h}" '
        f'stroke="#dde1e7"/>',
        f'<text x="{_LEFT - 6}" y="{_TOP + 10}" text-anchor="end" font-size="11" '
        f'fill="{_SENT}">{int(top):,}</text>',
        f'<text x="{_LEFT - 6}" y="{_TOP + plot_h}" text-anchor="end" font-size="11" '
        f'fill="#667085">0</text>',
        f'<text x="{_W - _RIGHT + 6}" y="{_TOP + 10}" font-size="11" '
        f'fill="{_DURATION}">{longest:.1f} s</text>',
    ]
    points = []
    for i, run in enumerate(runs):
        x = _LEFT + slot * i + (slot - bar) / 2
        accepted = _num(run, "accepted")
        rejected = _num(run, "rejected")
        invalid = _num(run, "invalid")
        h_acc = plot_h * accepted / top
        h_rej = plot_h * rejected / top
        h_inv = plot_h * invalid / top
        base = _TOP + plot_h
        label = escape(
            f"run {run.get('id')}: {int(accepted):,} accepted, {int(rejected):,} rejected, "
            f"{int(invalid):,} invalid, "
            f"{_num(run, 'duration_s'):.1f} s"
        )
        parts.append(
            f'<g><title>{label}</title>'
            f'<rect class="sent" x="{x:.1f}" y="{base - h_acc:.1f}" width="{bar:.1f}" '
            f'height="{h_acc:.1f}" fill="{_SENT}"/>'
            f'<rect class="rejected" x="{x:.1f}" y="{base - h_acc - h_rej:.1f}" '
            f'width="{bar:.1f}" height="{h_rej:.1f}" fill="{_REJECTED}"/>'
            f'<rect class="invalid" x="{x:.1f}" y="{base - h_acc - h_rej - h_inv:.1f}" '
            f'width="{bar:.1f}" height="{h_inv:.1f}" fill="{_INVALID}"/></g>'
        )
        cx = x + bar / 2
        cy = _TOP + plot_h - plot_h * _num(run, "duration_s") / longest
        points.append(f"{cx:.1f},{cy:.1f}")
        if len(runs) <= 20:
            parts.append(f'<text x="{cx:.1f}" y="{_H - 10}" text-anchor="middle" font-size="10" '
                         f'fill="#667085">{escape(str(run.get("id")))}</text>')
    parts.append(f'<polyline class="duration" points="{" ".join(points)}" fill="none" '
                 f'stroke="{_DURATION}" stroke-width="2"/>')
    parts.append("</svg>")
    return "".join(parts)
