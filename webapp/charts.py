"""Charts drawn on the server as SVG: bar, stacked bar, heatmap, timeline.

A canned query's header names the chart (``chart: {kind: bar, x: jurisdiction, y: count,
series: mode}``); :func:`render` draws it from the result rows, with labels from the page's
one labels() batch. Every text is escaped here; pages show the table beside the chart, so
the chart is an enhancement and never the only way to read a number.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from markupsafe import Markup
from rdflib import Literal, URIRef

PALETTE = ("#1b6ca8", "#e07b39", "#3a9d5d", "#b8437a", "#7b61a8", "#c9a227", "#4f8f9f", "#8c564b", "#5f6b7a")
WIDTH = 720


def _number(term) -> float | None:
    """A literal's number; a date counts as its year (for timelines)."""
    if not isinstance(term, Literal):
        return None
    text = str(term)
    try:
        return float(text)
    except ValueError:
        return float(text[:4]) if text[:4].isdigit() else None


def _name(term, labels: dict[str, str]) -> str:
    if term is None:
        return "(none)"
    if isinstance(term, URIRef):
        return labels.get(str(term)) or str(term).rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]
    return str(term)


def _text(x, y, text, anchor="start", size=12, extra="") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}"{extra}>'
            f"{escape(text)}</text>")


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render(spec: dict, variables: list[str], rows: list[tuple], labels: dict[str, str], title: str = "") -> Markup | None:
    """The chart as inline SVG markup, or None when the rows hold nothing to draw."""
    index = {v: i for i, v in enumerate(variables)}
    get = lambda row, key: row[index[spec[key]]] if spec.get(key) in index else None  # noqa: E731
    kind = spec.get("kind")
    draw = {"bar": _bars, "stacked-bar": _bars, "heatmap": _heatmap, "timeline": _timeline}.get(kind)
    if draw is None or not rows:
        return None
    svg = draw(spec, rows, get, labels)
    if svg is None:
        return None
    body, height = svg
    label = escape(f"{title}: {kind} chart" if title else f"{kind} chart")
    return Markup(f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" class="chart" '
                  f'viewBox="0 0 {WIDTH} {height}" width="100%" font-family="system-ui, sans-serif">'
                  f"<title>{label}</title>{body}</svg>")


def _bars(spec, rows, get, labels):
    categories: list[str] = []
    series_names: list[str] = []
    values: dict[tuple[str, str], float] = {}
    for row in rows:
        y = _number(get(row, "y"))
        if y is None:
            continue
        x = _name(get(row, "x"), labels)
        s = _name(get(row, "series"), labels) if spec.get("series") else ""
        if x not in categories:
            categories.append(x)
        if s not in series_names:
            series_names.append(s)
        values[(x, s)] = values.get((x, s), 0.0) + y
    if not categories:
        return None
    stacked = spec.get("kind") == "stacked-bar" or bool(spec.get("series"))
    totals = {c: sum(values.get((c, s), 0.0) for s in series_names) for c in categories}
    top = max(totals.values()) if stacked else max(values.values())
    top = top if top > 0 else 1.0
    left, bar_h, gap = 200, 22, 8
    legend_h = 24 if len(series_names) > 1 else 0
    height = legend_h + len(categories) * (bar_h + gap) + 30
    out = []
    if legend_h:
        x = left
        for i, s in enumerate(series_names):
            out.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>')
            out.append(_text(x + 16, 14, _short(s, 20), size=11))
            x += 30 + 7 * min(len(s), 20)
    scale = (WIDTH - left - 60) / top
    for row_i, c in enumerate(categories):
        y = legend_h + row_i * (bar_h + gap) + 4
        out.append(_text(left - 8, y + bar_h * 0.7, _short(c), anchor="end"))
        x = left
        for i, s in enumerate(series_names):
            v = values.get((c, s))
            if not v:
                continue
            w = max(v * scale, 1)
            tip = f"{c} / {s}: {v:g}" if s else f"{c}: {v:g}"
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[i % len(PALETTE)]}">'
                       f"<title>{escape(tip)}</title></rect>")
            x += w
        out.append(_text(x + 4, y + bar_h * 0.7, f"{totals[c]:g}", size=11))
    return "".join(out), height


def _heatmap(spec, rows, get, labels):
    columns: list[str] = []
    lines: list[str] = []
    values: dict[tuple[str, str], float] = {}
    for row in rows:
        v = _number(get(row, "y"))
        if v is None:
            continue
        col = _name(get(row, "x"), labels)
        line = _name(get(row, "series"), labels) if spec.get("series") else ""
        columns += [col] if col not in columns else []
        lines += [line] if line not in lines else []
        values[(line, col)] = values.get((line, col), 0.0) + v
    if not values:
        return None
    top = max(values.values()) or 1.0
    left, head = 200, 110
    cell_w = max(24, min(80, (WIDTH - left - 10) // max(len(columns), 1)))
    cell_h = 26
    height = head + len(lines) * cell_h + 10
    out = []
    for j, col in enumerate(columns):
        cx = left + j * cell_w + cell_w / 2
        out.append(_text(cx, head - 6, _short(col, 18), size=11, extra=f' transform="rotate(-45 {cx:.1f} {head - 6})"'))
    for i, line in enumerate(lines):
        y = head + i * cell_h
        out.append(_text(left - 8, y + cell_h * 0.65, _short(line), anchor="end"))
        for j, col in enumerate(columns):
            v = values.get((line, col))
            if v is None:
                continue
            alpha = 0.15 + 0.85 * (v / top)
            x = left + j * cell_w
            out.append(f'<rect x="{x}" y="{y}" width="{cell_w - 2}" height="{cell_h - 2}" fill="#1b6ca8" '
                       f'fill-opacity="{alpha:.2f}"><title>{escape(f"{line} / {col}: {v:g}")}</title></rect>')
            out.append(_text(x + cell_w / 2 - 1, y + cell_h * 0.65, f"{v:g}", anchor="middle", size=11,
                             extra=' fill="#000"' if alpha < 0.6 else ' fill="#fff"'))
    return "".join(out), height


def _timeline(spec, rows, get, labels):
    items = []
    for row in rows:
        start = _number(get(row, "x"))
        if start is None:
            continue
        end = _number(get(row, "y"))
        name = _name(get(row, "label") if spec.get("label") else get(row, "series"), labels) \
            if (spec.get("label") or spec.get("series")) else f"{start:g}"
        items.append((name, start, end))
    if not items:
        return None
    lo = min(s for _, s, _ in items)
    hi = max(max(s, e or s) for _, s, e in items)
    hi = hi if hi > lo else lo + 1
    open_end = hi + max(1, (hi - lo) * 0.05)
    left, bar_h, gap, axis = 200, 18, 6, 24
    height = axis + len(items) * (bar_h + gap) + 10
    scale = (WIDTH - left - 20) / (open_end - lo)
    out = []
    step = max(1, int((open_end - lo) / 8))
    year = int(lo)
    while year <= open_end:
        x = left + (year - lo) * scale
        out.append(f'<line x1="{x:.1f}" y1="{axis - 4}" x2="{x:.1f}" y2="{height}" stroke="#ddd"/>')
        out.append(_text(x, axis - 8, str(year), anchor="middle", size=10))
        year += step
    for i, (name, start, end) in enumerate(items):
        y = axis + i * (bar_h + gap)
        x1 = left + (start - lo) * scale
        x2 = left + ((end if end is not None else open_end) - lo) * scale
        out.append(_text(left - 8, y + bar_h * 0.75, _short(name), anchor="end"))
        span = f"{start:g}–{end:g}" if end is not None else f"{start:g}–"
        out.append(f'<rect x="{x1:.1f}" y="{y}" width="{max(x2 - x1, 3):.1f}" height="{bar_h}" rx="3" '
                   f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(f"{name}: {span}")}</title></rect>')
    return "".join(out), height
