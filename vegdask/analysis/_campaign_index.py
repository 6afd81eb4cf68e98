"""A campaign's ``index.html``: its sites on a map, a sortable table, the cross-location figures.

The map is equirectangular, drawn as inline SVG over Natural Earth's 1:110m land
(``land_110m.json`` beside this module: public domain, see ``land_110m.README.md``), so the page
needs no network: like ``report.html`` it is one file with its figures, CSS and script inside.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import math
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from vegdask.analysis._verdict import (
    HEADLINES,
    IndicatorTest,
    indicator_label,
    p_text,
    series_label,
    verdict_tests,
)
from vegdask.data import RunStore

__all__ = ["VERDICT_COLOURS", "campaign_index_html", "land_rings", "write_campaign_index"]

#: A site's class on the map and in the table, and its colour (colour-blind safe: red and blue
#: differ in lightness too; failed black, no verdict grey).
VERDICT_COLOURS: dict[str, str] = {
    "significant": "#c62828",
    "not significant": "#1f6fb4",
    "no verdict": "#9e9e9e",
    "failed": "#000000",
}
# The map's drawing width (SVG user units; the page scales it) and its markers' radii there.
_WIDTH = 960
_RADIUS = (5.0, 15.0)
# Sites named beside their circles up to this many (more would cover each other: tooltips then).
_LABELLED = 30
# Drawn last, on top where circles overlap: the classes a reader looks for.
_ON_TOP = ("no verdict", "not significant", "failed", "significant")


@functools.cache
def land_rings() -> tuple[tuple[tuple[float, float], ...], ...]:
    """Natural Earth 1:110m land as rings of (longitude, latitude) degrees, simplified.

    Returns
    -------
    tuple of tuple of (float, float)
        Closed rings (last point = first); draw them with the even-odd rule (one is a hole).

    Examples
    --------
    >>> rings = land_rings()
    >>> len(rings), all(r[0] == r[-1] for r in rings)
    (126, True)
    """
    text = resources.files("vegdask.analysis").joinpath("land_110m.json").read_text("utf-8")
    flat = json.loads(text)["data"]
    return tuple(tuple(zip(ring[::2], ring[1::2], strict=True)) for ring in flat)


def site_class(entry: Mapping[str, Any]) -> str:
    """A campaign.json location entry's class: a key of :data:`VERDICT_COLOURS`.

    Examples
    --------
    >>> site_class({"status": "done", "verdict": {"p_value": 0.01, "significant": True}})
    'significant'
    >>> site_class({"status": "pending", "verdict": None})
    'no verdict'
    """
    if entry.get("status") == "failed":
        return "failed"
    verdict = entry.get("verdict") or {}
    if verdict.get("p_value") is None:
        return "no verdict"
    return "significant" if verdict.get("significant") else "not significant"


@dataclass(frozen=True)
class _Frame:
    """The map's extent in degrees and its equirectangular projection to SVG units."""

    west: float
    east: float
    south: float
    north: float

    @property
    def scale(self) -> float:
        return _WIDTH / (self.east - self.west)

    @property
    def stretch(self) -> float:
        """Shrinks longitudes by the cosine of the middle latitude (true shapes there)."""
        middle = math.radians(min(60.0, abs(self.south + self.north) / 2))
        return 1 / math.cos(middle)

    @property
    def height(self) -> float:
        return (self.north - self.south) * self.scale * self.stretch

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (lon - self.west) * self.scale, (self.north - lat) * self.scale * self.stretch


def _frame(points: list[tuple[float, float]]) -> _Frame:
    """The sites' box with a margin, wide enough to recognise the coasts; the world if none."""
    if not points:
        return _Frame(-180.0, 180.0, -60.0, 85.0)
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    width = max(max(lons) - min(lons), 20.0) * 1.3
    height = max(max(lats) - min(lats), 10.0) * 1.3
    width, height = max(width, height * 1.2), max(height, width / 2.2)
    width, height = min(width, 360.0), min(height, 170.0)
    west = min(max((max(lons) + min(lons) - width) / 2, -180.0), 180.0 - width)
    south = min(max((max(lats) + min(lats) - height) / 2, -85.0), 85.0 - height)
    return _Frame(west, west + width, south, south + height)


def _unwrapped(ring: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """A ring without jumps across the antimeridian (longitudes beyond +-180 where it crosses).

    A ring around a pole (Antarctica: its longitudes end 360 degrees from where they start) is
    closed along that pole, so that its inside is the land.

    Examples
    --------
    >>> _unwrapped(((179.0, -16.0), (-179.0, -16.0), (-179.0, -17.0), (179.0, -16.0)))
    [(179.0, -16.0), (181.0, -16.0), (181.0, -17.0), (179.0, -16.0)]
    """
    out = [ring[0]]
    for lon, lat in ring[1:]:
        previous = out[-1][0]
        out.append((lon + 360 * round((previous - lon) / 360), lat))
    if abs(out[-1][0] - out[0][0]) > 180:
        pole = -90.0 if sum(lat for _, lat in out) < 0 else 90.0
        out += [(out[-1][0], pole), (out[0][0], pole)]
    return out


@functools.cache
def _land() -> tuple[tuple[tuple[float, float, float, float], list[tuple[float, float]]], ...]:
    """The unwrapped land rings, each drawn three times (360 degrees apart), with their boxes."""
    copies = []
    for ring in map(_unwrapped, land_rings()):
        for shift in (-360.0, 0.0, 360.0):
            moved = [(lon + shift, lat) for lon, lat in ring]
            lons, lats = [p[0] for p in moved], [p[1] for p in moved]
            copies.append(((min(lons), max(lons), min(lats), max(lats)), moved))
    return tuple(copies)


def _land_path(frame: _Frame) -> str:
    """The land rings that reach the frame as one SVG path (SVG clips the rest)."""
    parts = []
    for (west, east, south, north), ring in _land():
        if east < frame.west or west > frame.east or north < frame.south or south > frame.north:
            continue
        xy = [frame.xy(lon, lat) for lon, lat in ring]
        parts.append("M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in xy) + "Z")
    return "".join(parts)


def _graticule(frame: _Frame) -> tuple[str, float]:
    """Meridians and parallels every ``step`` degrees (4 to 10 across the frame)."""
    span = frame.east - frame.west
    step = next(s for s in (1, 2, 5, 10, 15, 20, 30, 45, 60) if span / s <= 10)
    lines = []
    lon = math.ceil(frame.west / step) * step
    while lon <= frame.east:
        x = frame.xy(lon, 0)[0]
        lines.append(f"M{x:.1f} 0V{frame.height:.1f}")
        lon += step
    lat = math.ceil(frame.south / step) * step
    while lat <= frame.north:
        y = frame.xy(0, lat)[1]
        lines.append(f"M0 {y:.1f}H{_WIDTH}")
        lat += step
    return "".join(lines), step


def _radius(tiles: Any, largest: float) -> float:
    """Marker radius: area in proportion to the valid tiles, at least the smallest radius."""
    low, high = _RADIUS
    if not isinstance(tiles, int | float) or largest <= 0 or tiles <= 0:
        return low
    return max(low, high * math.sqrt(tiles / largest))


def _degrees(lon: float, lat: float) -> str:
    return f"{abs(lon):.2f}° {'E' if lon >= 0 else 'W'}, {abs(lat):.2f}° {'N' if lat >= 0 else 'S'}"


def _marker_title(site: str, entry: Mapping[str, Any], label: str) -> str:
    parts = [f"{site}: {label}"]
    verdict = entry.get("verdict") or {}
    if verdict.get("p_value") is not None and verdict.get("kendall_tau") is not None:
        parts.append(
            f"{verdict.get('test')} {series_label(verdict.get('series', ''))} "
            f"{indicator_label(verdict.get('indicator', ''))} tau {verdict['kendall_tau']:.2f}, "
            f"p = {p_text(verdict['p_value'])}"
        )
    if entry.get("valid_tiles") is not None:
        parts.append(f"{entry['valid_tiles']} valid tiles")
    if entry.get("error"):
        parts.append(str(entry["error"]))
    return "; ".join(parts)


# A name's box at font-size 14: width per character (an upper bound for digits and most letters),
# and its extent above and below the baseline.
_CHAR_WIDTH, _ASCENT, _DESCENT = 8.4, 12.0, 4.0
_Box = tuple[float, float, float, float]  # left, top, right, bottom


def _name_box(x: float, y: float, anchor: str, name: str) -> _Box:
    """The box (left, top, right, bottom) of ``name`` drawn at baseline point x, y."""
    width = _CHAR_WIDTH * len(name)
    left = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return left, y - _ASCENT, left + width, y + _DESCENT


def _hits_circle(box: _Box, circle: tuple[float, float, float]) -> bool:
    left, top, right, bottom = box
    cx, cy, r = circle
    nearest_x, nearest_y = min(max(cx, left), right), min(max(cy, top), bottom)
    return (nearest_x - cx) ** 2 + (nearest_y - cy) ** 2 < r * r


def _overlap(a: _Box, b: _Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _place_names(
    marks: Sequence[tuple[str, float, float, float]], width: float, height: float
) -> dict[str, tuple[float, float, str]]:
    """Where to write each mark's name (x, y, text-anchor), in turn, none covering another.

    ``marks`` are (name, x, y, radius) of circles. A name goes on its circle's right if it can,
    else at the first free place around it (left, above, below, the diagonals): inside the map,
    clear of the names placed before it and, if possible, of every circle. A name with no place
    clear of the others is left out (the circle's tooltip and the table still give it).

    Examples
    --------
    >>> _place_names([("a", 100, 100, 10), ("b", 900, 100, 10)], 960, 200)
    {'a': (113, 104, 'start'), 'b': (913, 104, 'start')}
    >>> _place_names([("a", 100, 100, 10), ("b", 100, 112, 10)], 960, 200)["b"]  # below a: left
    (87, 116, 'end')
    """
    circles = [(x, y, r) for _, x, y, r in marks]
    placed: dict[str, tuple[float, float, str]] = {}
    boxes: list[_Box] = []
    for name, x, y, r in marks:
        d = r * 0.7 + 2  # the diagonals: just off the circle
        spots = [(x + r + 3, y + 4, "start"), (x - r - 3, y + 4, "end"),
                 (x, y - r - 4, "middle"), (x, y + r + _ASCENT + 2, "middle"),
                 (x + d, y - d, "start"), (x + d, y + d + _ASCENT, "start"),
                 (x - d, y - d, "end"), (x - d, y + d + _ASCENT, "end")]  # fmt: skip
        free = []
        for spot in spots:
            box = _name_box(*spot, name)
            inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
            if inside and not any(_overlap(box, other) for other in boxes):
                free.append((any(_hits_circle(box, c) for c in circles), spot, box))
        if free:
            _, spot, box = min(free, key=lambda f: f[0])  # the first clear of every circle
            placed[name] = spot
            boxes.append(box)
    return placed


def _markers(
    placed: Mapping[str, Mapping[str, Any]], frame: _Frame, largest: float, reports: set[str]
) -> str:
    """The sites' circles (by :data:`_ON_TOP`, then largest first) and, if few, their names."""

    def order(item: tuple[str, Mapping[str, Any]]) -> tuple[int, float]:
        entry = item[1]
        return _ON_TOP.index(site_class(entry)), -_radius(entry.get("valid_tiles"), largest)

    circles, marks = [], []
    for site, entry in sorted(placed.items(), key=order):
        x, y = frame.xy(entry["longitude"], entry["latitude"])
        label = site_class(entry)
        radius = _radius(entry.get("valid_tiles"), largest)
        title = html.escape(_marker_title(site, entry, label))
        circle = (
            f'<circle class="site" data-id="{html.escape(site)}" data-verdict="{label}" '
            f'cx="{x:.1f}" cy="{y:.1f}" r="{radius:.1f}" '
            f'fill="{VERDICT_COLOURS[label]}"><title>{title}</title></circle>'
        )
        if site in reports:
            circle = f'<a href="{html.escape(_report_link(site))}">{circle}</a>'
        circles.append(circle)
        marks.append((site, x, y, radius))
    names = []
    if len(marks) <= _LABELLED:  # the sites looked for (drawn last) are named first
        spots = _place_names(marks[::-1], _WIDTH, frame.height)
        names = [
            f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{html.escape(site)}</text>'
            for site, (x, y, anchor) in spots.items()
        ]
    return (
        f'<g stroke="#ffffff" stroke-width="1.5" fill-opacity="0.85">{"".join(circles)}</g>'
        '<g class="names" font-size="14" fill="#222" stroke="#ffffff" stroke-width="3" '
        f'paint-order="stroke" pointer-events="none">{"".join(names)}</g>'
    )


def _map_svg(locations: Mapping[str, Mapping[str, Any]], reports: set[str]) -> str:
    """The sites over the land: one circle a site, coloured by class, area by valid tiles."""
    placed = {
        site: entry
        for site, entry in locations.items()
        if isinstance(entry.get("longitude"), int | float)
        and isinstance(entry.get("latitude"), int | float)
    }
    frame = _frame([(e["longitude"], e["latitude"]) for e in placed.values()])
    tiles = [e.get("valid_tiles") for e in placed.values()]
    largest = max([t for t in tiles if isinstance(t, int | float)], default=0)
    grid, step = _graticule(frame)
    markers = _markers(placed, frame, largest, reports)
    height = frame.height
    svg = (
        f'<svg class="map" viewBox="0 0 {_WIDTH} {height:.1f}" role="img" '
        f'data-west="{frame.west}" data-east="{frame.east}" data-south="{frame.south}" '
        f'data-north="{frame.north}" '
        f'aria-label="Map of the campaign\'s sites" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="{_WIDTH}" height="{height:.1f}" fill="#dcebf5"/>'
        f'<path class="land" d="{_land_path(frame)}" fill="#f1ede4" fill-rule="evenodd" '
        'stroke="#8a8a8a" stroke-width="0.8"/>'
        f'<path class="graticule" d="{grid}" fill="none" stroke="#6a7f90" stroke-width="0.5" '
        'stroke-dasharray="3 3" opacity="0.6"/>'
        f"{markers}</svg>"
    )
    unplaced = sorted(set(locations) - set(placed))
    note = f" Not on the map (no coordinates): {', '.join(unplaced)}." if unplaced else ""
    named = markers.count("<text ")  # too many sites, or no room beside a circle: tooltips
    hover = "" if named == len(placed) else " (point at it for its name)"
    caption = (
        f"Equirectangular map, {_degrees(frame.west, frame.south)} to "
        f"{_degrees(frame.east, frame.north)}; dashed lines every {step}°. Coasts: Natural "
        "Earth 1:110m land (public domain). Each site is a circle coloured by its verdict, its "
        f"area in proportion to its valid tiles (largest: {largest:g}); sites with less than "
        f"{(_RADIUS[0] / _RADIUS[1]) ** 2:.0%} of that, or none recorded, get the smallest "
        f"circle. Click a site for its report{hover}.{note}"
    )
    return f"<figure>{svg}<figcaption>{html.escape(caption)}</figcaption></figure>"


def _legend(locations: Mapping[str, Mapping[str, Any]]) -> str:
    counts = {label: 0 for label in VERDICT_COLOURS}
    for entry in locations.values():
        counts[site_class(entry)] += 1
    items = "".join(
        f'<li><span class="dot" style="background:{colour}"></span>{html.escape(label)}: '
        f"{counts[label]}</li>"
        for label, colour in VERDICT_COLOURS.items()
    )
    return f'<ul class="legend">{items}</ul>'


def _report_link(site: str) -> str:
    return posixpath.join("locations", site, "report.html")


def _number(value: Any, digits: int = 2) -> tuple[str, str]:
    """(shown text, sort key) of a number; ``n/a`` and an empty key when missing."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        return "n/a", ""
    shown = f"{value:.{digits}f}" if isinstance(value, float) else str(value)
    return shown, repr(value)


def _seconds(stages: Mapping[str, Any] | None) -> float | None:
    """The seconds of a location's stages, summed; None when none is recorded."""
    known = [v for v in (stages or {}).values() if isinstance(v, int | float)]
    return sum(known) if known else None


def _cell(text: str, key: str | None = None, css: str = "", title: str = "") -> str:
    attrs = f' data-sort="{html.escape(text if key is None else key)}"'
    attrs += f' class="{css}"' if css else ""
    attrs += f' title="{html.escape(title)}"' if title else ""
    return f"<td{attrs}>{html.escape(text)}</td>"


def _test_cells(tests: Mapping[tuple[str, str], IndicatorTest] | None) -> list[str]:
    """Tau and p of each headline test (offset50 and NDVI AR(1)), as the verdict used them."""
    cells = []
    for key in HEADLINES:
        test = (tests or {}).get(key)
        tau = _number(None if test is None else test.kendall_tau)
        p_value = None if test is None else test.p_value
        p = ("n/a", "") if p_value is None else (p_text(p_value), repr(p_value))
        cells += [_cell(*tau), _cell(*p)]
    return cells


def _table(
    locations: Mapping[str, Mapping[str, Any]],
    tests: Mapping[str, Mapping[tuple[str, str], IndicatorTest]],
    reports: set[str],
) -> str:
    truth = any(e.get("synthetic_rainfall") for e in locations.values())
    heads = ["site", "status", "verdict", "test"]
    heads += [f"{series_label(s)} {indicator_label(i)} {q}" for s, i in HEADLINES for q in "τp"]
    heads += ["valid tiles", "periods", "wall time (s)", "CPU time (s)"]
    heads += ["synthetic rainfall (truth)"] if truth else []
    heads += ["error"]
    rows = []
    for site, entry in locations.items():
        label = site_class(entry)
        verdict = entry.get("verdict") or {}
        name = html.escape(site)
        link = (
            f'<a href="{html.escape(_report_link(site))}">{name}</a>' if site in reports else name
        )
        cells = [
            f'<th scope="row" data-sort="{name}">{link}</th>',
            _cell(str(entry.get("status", "pending"))),
            _cell(label, css=f"v-{label.replace(' ', '-')}", title=verdict.get("sentence", "")),
            _cell(str(verdict.get("test") or "n/a"), "" if not verdict.get("test") else None),
            *_test_cells(tests.get(site)),
            _cell(*_number(entry.get("valid_tiles"))),
            _cell(*_number(entry.get("periods"))),
            _cell(*_number(_seconds(entry.get("stage_seconds")), 1)),
            _cell(*_number(_seconds(entry.get("stage_cpu_seconds")), 1)),
            *([_cell(str(entry.get("synthetic_rainfall") or "n/a"))] if truth else []),
            _cell(str(entry.get("error") or "")),
        ]
        rows.append(f'<tr data-id="{name}">{"".join(cells)}</tr>')
    header = "".join(
        f'<th scope="col"><button type="button">{html.escape(h)}</button></th>' for h in heads
    )
    return (
        '<div class="scroll"><table class="sortable"><thead><tr>'
        f"{header}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="legend-text">Click a column\'s name to sort by it (again: the other way; '
        "n/a last). τ and p: the Kendall τ of rolling AR(1) and its one-sided surrogate p, by "
        "the test the verdict used (pooled over tiles where run, else mean-series); the two "
        "tests share alpha. Valid tiles: summed over the periods. Wall and CPU time: the "
        "location's stages' seconds summed, as its run.json records them (CPU: the driver's "
        "and the workers').</p>"
    )


def _figures(figures: Mapping[str, bytes]) -> str:
    if not figures:
        return ""
    parts = [
        f'<figure><img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
        f'alt="{html.escape(key)}"><figcaption>{html.escape(key.replace("_", " "))}'
        "</figcaption></figure>"
        for key, png in figures.items()
    ]
    return '<div class="figures">' + "".join(parts) + "</div>"


_SCRIPT = """
document.querySelectorAll('table.sortable').forEach(table => {
  const body = table.tBodies[0];
  const compare = (a, b) => {
    const x = Number(a), y = Number(b);
    if (Number.isFinite(x) && Number.isFinite(y)) return x - y;
    return a.localeCompare(b, undefined, {numeric: true});
  };
  table.querySelectorAll('thead th').forEach(th => {
    th.querySelector('button').addEventListener('click', () => {
      const up = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('thead th').forEach(h => h.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      const key = row => row.cells[th.cellIndex].dataset.sort;
      const rows = [...body.rows].sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        if (x === '' || y === '') return (x === '') - (y === '');
        return up ? compare(x, y) : compare(y, x);
      });
      rows.forEach(row => body.appendChild(row));
    });
  });
});
"""

_STYLE = (
    "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}h1{font-size:1.6em}"
    "img,svg.map{max-width:100%;height:auto;display:block}svg.map{width:100%}"
    "figure{margin:1em 0}figcaption,.legend-text{color:#555;font-size:90%}"
    "table{border-collapse:collapse;margin:1em 0}.scroll{overflow-x:auto;max-width:100%}"
    "td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%;white-space:nowrap}"
    "th button{font:inherit;font-weight:bold;background:none;border:0;padding:0;cursor:pointer}"
    # the arrows are drawn, not read out (aria-sort says it): the buttons keep their names
    "th[aria-sort=ascending] button::after{content:' ▲'/''}"
    "th[aria-sort=descending] button::after{content:' ▼'/''}"
    ".legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1.2em}"
    ".dot{display:inline-block;width:.9em;height:.9em;border-radius:50%;margin-right:.3em;"
    "vertical-align:middle}"
    ".v-significant{background:#f8c9c4}.v-not-significant{background:#d3e4f4}"
    ".v-no-verdict{background:#eee}.v-failed{background:#333;color:#fff}"
    ".synthetic{background:#fff3cd;padding:.5em;border:1px solid #e0c060}"
    # a phone shows the map at ~40 %: circles twice as large there, names left to the table
    "@media (max-width:600px){svg.map .names{display:none}"
    "circle.site{transform:scale(2);transform-box:fill-box;transform-origin:center}}"
    ".figures{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:1em}"
    ".figures figure{margin:0}"
)


def campaign_index_html(
    record: Mapping[str, Any],
    tests: Mapping[str, Mapping[tuple[str, str], IndicatorTest]] | None = None,
    figures: Mapping[str, bytes] | None = None,
    *,
    reports: set[str] | frozenset[str] = frozenset(),
    synthetic: bool = False,
) -> str:
    """The page of a campaign: its sites on a map, a sortable table, the cross-location figures.

    Parameters
    ----------
    record : dict
        The content of ``campaign.json`` (``locations``: per site its ``status``, ``verdict``,
        ``longitude``, ``latitude``, ``valid_tiles``, ``periods``, ``stage_seconds``, ...).
    tests : dict, optional
        Per site, the tests its verdict used (:func:`vegdask.analysis.verdict_tests` of its
        resilience.json): the table shows offset50's and NDVI's AR(1) tau and p.
    figures : dict, optional
        PNG bytes of the cross-location figures (``summary/``), by name, in page order.
    reports : set of str
        The sites that have a ``locations/<id>/report.html`` to link to.
    synthetic : bool
        The imagery was simulated: the title says so.

    Returns
    -------
    str
        One self-contained HTML page (no request leaves it but its links to the reports).

    Examples
    --------
    >>> page = campaign_index_html({"locations": {
    ...     "a": {"status": "done", "longitude": 2.6, "latitude": 13.1, "valid_tiles": 90,
    ...           "verdict": {"p_value": 0.2, "significant": False, "kendall_tau": 0.1}},
    ...     "b": {"status": "failed", "longitude": 28.0, "latitude": 11.6, "error": "fetch: x"}}})
    >>> page.count('<circle class="site"'), 'data-verdict="failed"' in page
    (2, True)
    """
    locations = record.get("locations", {})
    tests = tests or {}
    title = ("SYNTHETIC DATA: " if synthetic else "") + f"vegdask campaign: {len(locations)} sites"
    counts = {s: sum(e.get("status") == s for e in locations.values()) for s in ("done", "failed")}
    pending = len(locations) - counts["done"] - counts["failed"]
    links = '<a href="campaign.json">campaign.json</a>'
    summary = record.get("summary") or {}
    if summary.get("output"):
        links += f', <a href="{html.escape(summary["output"])}/summary.html">summary.html</a>'
    parts = [
        (
            '<p class="synthetic"><strong>Synthetic data</strong>: the imagery was simulated '
            "by vegdask's synthetic source, not observed by a satellite; each site's rainfall "
            "path (the truth to check the verdicts against) is in the table.</p>"
        )
        if synthetic
        else "",
        f"<p>{counts['done']} done, {counts['failed']} failed, {pending} pending. "
        f"Records: {links}.</p>",
        "<h2>Sites</h2>",
        _legend(locations),
        _map_svg(locations, set(reports)),
        "<h2>Table</h2>",
        _table(locations, tests, set(reports)),
    ]
    if figures:
        parts += ["<h2>Across locations</h2>", _figures(figures)]
    elif summary.get("error"):
        parts += [
            "<h2>Across locations</h2>",
            f"<p>No summary: {html.escape(summary['error'])}.</p>",
        ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{''.join(parts)}<script>{_SCRIPT}</script>"
        "</body></html>"
    )


def write_campaign_index(output: str, record: Mapping[str, Any], *, synthetic: bool = False) -> str:
    """Write ``<output>/index.html`` from the campaign's record and outputs; return its URL.

    Reads each analysed site's ``analysis/resilience.json`` (the taus and p-values of the
    table), which sites have a ``report.html``, and the PNG figures of ``summary/``.

    Parameters
    ----------
    output : str
        The campaign's output folder or URL (``campaign.json``'s folder).
    record : dict
        The content of ``campaign.json``.
    synthetic : bool
        The imagery was simulated (the title says so).

    Returns
    -------
    str
        The page's URL (``<output>/index.html``).

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> record = {"locations": {"a": {"status": "failed", "error": "fetch: no imagery",
    ...                               "longitude": 2.6, "latitude": 13.1}}}
    >>> write_campaign_index(folder, record).endswith("index.html")
    True
    """
    store = RunStore(output)
    tests, reports = {}, set()
    for site, entry in record.get("locations", {}).items():
        folder = entry.get("output") or posixpath.join("locations", site)
        if store.exists(posixpath.join(folder, "report.html")):
            reports.add(site)
        resilience = posixpath.join(folder, "analysis", "resilience.json")
        if entry.get("verdict") and store.exists(resilience):
            found = store.read_json(resilience)
            tests[site] = verdict_tests(found, "pooled") or verdict_tests(found, "mean-series")
    figures = {}
    summary = (record.get("summary") or {}).get("output")
    if summary and store.exists(summary):
        paths = sorted(store.fs.glob(posixpath.join(store.path_of(summary), "*.png")))
        for path in sorted(paths, key=lambda p: not p.endswith("/correlations.png")):
            with store.fs.open(path, "rb") as f:
                figures[posixpath.basename(path).removesuffix(".png")] = f.read()
    page = campaign_index_html(record, tests, figures, reports=reports, synthetic=synthetic)
    store.write_bytes("index.html", page.encode())
    return store.url_of("index.html")
