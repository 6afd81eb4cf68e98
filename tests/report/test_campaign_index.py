"""A campaign's index.html: its sites on a map, the sortable table, the summary's figures.

The campaign is written by hand (campaign.json, stub reports, resilience.json, summary PNGs) so
every class of site is there and the page takes no run to build; the Chromium tests (Playwright,
the system's Chromium, as tests/report/test_report_browser.py) load it at desktop and phone width.
test_campaign.py checks that a real campaign run and its rerun write it.
"""

import base64
import html
import itertools
import json
import math
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from matplotlib.figure import Figure

from vegdask.analysis import VERDICT_COLOURS, land_rings, write_campaign_index

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


def pooled(offset50, ndvi):
    """A resilience.json holding pooled AR(1) tests of offset50 and NDVI: (tau, p) each."""
    entry = {
        series: {"ar1": {"kendall_tau": tau, "p_value": p, "tiles": 9, "n_surrogates": 99}}
        for series, (tau, p) in (("offset50_mean", offset50), ("ndvi_mean", ndvi))
    }
    return {"offset50_mean": {"ar1": {"kendall_tau": 0.0, "p_value": 0.5}}, "location": entry}


def verdict(tau, p, significant, test="pooled"):
    return {
        "series": "offset50_mean",
        "indicator": "ar1",
        "test": test,
        "kendall_tau": tau,
        "p_value": p,
        "significant": significant,
        "alpha": 0.05,
        "level": 0.025,
        "sentence": "a sentence",
    }


def done(lon, lat, tiles, periods, seconds, verdict=None, rainfall="stable"):
    return {
        "status": "done",
        "error": None,
        "verdict": verdict,
        "longitude": lon,
        "latitude": lat,
        "valid_tiles": tiles,
        "periods": periods,
        "stage_seconds": {"fetch": seconds, "process": 1.0},
        "stage_cpu_seconds": {"fetch": seconds / 2, "process": 1.45},
        "synthetic_rainfall": rainfall,
    }


# Sahel and East African sites: one of each class; "loose" is pending (never ran).
SITES = {
    "sahel-1": done(2.6, 13.1, 400, 48, 7.5, verdict(0.31, 0.004, True), "declining"),
    "sahel-2": done(-5.5, 15.2, 100, 48, 3.0, verdict(-0.12, 0.71, False)),
    "kordofan": done(28.0, 11.6, 225, 36, 12.0, verdict(0.05, 0.4, False, "mean-series")),
    "short": done(38.5, 8.0, 16, 3, 0.5, {**verdict(0.2, None, False), "p_value": None}),
    "broken": {
        "status": "failed",
        "error": "process: ValueError: no scene",
        "verdict": None,
        "longitude": 20.0,
        "latitude": 5.0,
        "synthetic_rainfall": "declining",
    },
    "loose": {
        "status": "pending",
        "error": None,
        "verdict": None,
        "longitude": 33.0,
        "latitude": -3.0,
        "synthetic_rainfall": "stable",
    },
}
RESILIENCE = {
    "sahel-1": pooled((0.31, 0.004), (0.12, 0.2)),
    "sahel-2": pooled((-0.12, 0.71), (0.02, 0.45)),
    "kordofan": {  # mean-series tests only: no pooled test ran
        "offset50_mean": {"ar1": {"kendall_tau": 0.05, "p_value": 0.4}},
        "ndvi_mean": {"ar1": {"kendall_tau": -0.3, "p_value": 0.04}},
    },
    "short": pooled((0.2, None), (0.1, None)),
}


def expected_class(entry):
    """The test's own reading of a campaign.json entry (docs/pipeline.md's campaign section)."""
    if entry["status"] == "failed":
        return "failed"
    if entry["verdict"] is None or entry["verdict"]["p_value"] is None:
        return "no verdict"
    return "significant" if entry["verdict"]["significant"] else "not significant"


def write_figure(path):
    figure = Figure(figsize=(2, 1.5), dpi=50)
    figure.add_subplot().plot([0, 1], [1, 0])
    figure.savefig(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A campaign output: its record, stub reports, resilience.json, summary figures, index."""
    root = tmp_path_factory.mktemp("campaign")
    record = {"locations": {}, "summary": {"locations": 3, "error": None, "output": "summary"}}
    for site, entry in SITES.items():
        record["locations"][site] = {**entry, "output": f"locations/{site}"}
        if entry["status"] == "done":
            folder = root / "locations" / site
            (folder / "analysis").mkdir(parents=True)
            (folder / "report.html").write_text(f"<!DOCTYPE html><title>{site}</title>")
            text = json.dumps(RESILIENCE[site]).replace("null", "NaN")
            (folder / "analysis" / "resilience.json").write_text(text)
    (root / "campaign.json").write_text(json.dumps(record))
    (root / "summary").mkdir()
    (root / "summary" / "summary.html").write_text("<!DOCTYPE html><title>summary</title>")
    figures = {n: write_figure(root / "summary" / f"{n}.png") for n in ("b_vs_a", "correlations")}
    url = write_campaign_index(str(root), record, synthetic=True)
    return {"root": root, "record": record, "figures": figures, "url": url}


class Page(HTMLParser):
    """The page's elements as (tag, attributes, text) in document order."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.open = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        element = (tag, dict(attrs), [])
        self.elements.append(element)
        if tag not in ("meta", "img", "rect", "path", "br", "input", "link"):
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data):
        for element in self.open:
            element[2].append(data)

    def find(self, tag, **attrs):
        wanted = attrs.items()
        return [
            (a, "".join(text))
            for name, a, text in self.elements
            if name == tag and all(a.get(k) == v for k, v in wanted)
        ]


@pytest.fixture(scope="module")
def page(campaign):
    return Page((campaign["root"] / "index.html").read_text())


def test_written_beside_campaign_json(campaign):
    assert campaign["url"] == str(campaign["root"] / "index.html")


def test_one_marker_per_site_coloured_by_its_verdict(page):
    markers = {a["data-id"]: a for a, _ in page.find("circle", **{"class": "site"})}
    assert set(markers) == set(SITES)
    for site, entry in SITES.items():
        label = expected_class(entry)
        assert markers[site]["data-verdict"] == label
        assert markers[site]["fill"] == VERDICT_COLOURS[label]
    # four classes, four distinct colours
    assert len(set(VERDICT_COLOURS.values())) == len(VERDICT_COLOURS) == 4
    legend = [t for a, t in page.find("li")]
    counts = {c: sum(expected_class(e) == c for e in SITES.values()) for c in VERDICT_COLOURS}
    assert legend == [f"{c}: {n}" for c, n in counts.items()]
    assert counts == {"significant": 1, "not significant": 2, "no verdict": 2, "failed": 1}


def test_the_sites_looked_for_are_drawn_on_top_and_named(page):
    drawn = [a["data-verdict"] for a, _ in page.find("circle", **{"class": "site"})]
    # where circles overlap the later ones cover the earlier: significant and failed last
    last = {"significant", "failed"}
    first_looked_for = min(i for i, c in enumerate(drawn) if c in last)
    assert all(c in last for c in drawn[first_looked_for:])
    assert sorted(t for _, t in page.find("text")) == sorted(SITES)


def test_markers_are_placed_by_an_equirectangular_projection(page):
    """x = (lon - west) * k, y = (north - lat) * k / cos(middle latitude), k = 960 / width."""
    ((svg, _),) = page.find("svg")
    west, east, south, north = (float(svg[f"data-{k}"]) for k in ("west", "east", "south", "north"))
    k = 960 / (east - west)
    stretch = 1 / math.cos(math.radians(abs(south + north) / 2))
    _, _, width, height = map(float, svg["viewbox"].split())
    assert width == 960
    assert height == pytest.approx((north - south) * k * stretch, abs=0.06)
    markers = {a["data-id"]: a for a, _ in page.find("circle", **{"class": "site"})}
    for site, entry in SITES.items():
        lon, lat = entry["longitude"], entry["latitude"]
        assert west < lon < east
        assert south < lat < north
        assert float(markers[site]["cx"]) == pytest.approx((lon - west) * k, abs=0.06)
        assert float(markers[site]["cy"]) == pytest.approx((north - lat) * k * stretch, abs=0.06)
    # the frame holds the sites with a margin: none on the edge
    lons = [e["longitude"] for e in SITES.values()]
    assert west < min(lons) - 5
    assert east > max(lons) + 5


def test_marker_area_is_in_proportion_to_valid_tiles(page):
    radius = {a["data-id"]: float(a["r"]) for a, _ in page.find("circle", **{"class": "site"})}
    # sahel-1 (400 tiles), kordofan (225), sahel-2 (100): area ratios 400:225:100
    assert (radius["kordofan"] / radius["sahel-1"]) ** 2 == pytest.approx(225 / 400, abs=0.01)
    assert (radius["sahel-2"] / radius["sahel-1"]) ** 2 == pytest.approx(100 / 400, abs=0.01)
    # few or no tiles: the smallest circle, all alike and smaller than the others
    small = {radius[s] for s in ("short", "broken", "loose")}
    assert len(small) == 1
    assert small.pop() < radius["sahel-2"]


def distance(point, a, b):
    """From a point to the segment a-b, in degrees (a plane's distance: enough at this scale)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    along = ((point[0] - a[0]) * dx + (point[1] - a[1]) * dy) / ((dx * dx + dy * dy) or 1)
    t = min(1.0, max(0.0, along))
    return math.hypot(point[0] - a[0] - t * dx, point[1] - a[1] - t * dy)


def test_the_land_is_natural_earth():
    rings = land_rings()
    points = sum(len(r) - 1 for r in rings)
    assert 3000 < points < 6000
    # Africa's coast passes Cape Agulhas, Cap-Vert (Dakar) and Port Said within a quarter of a
    # degree (1:110m generalisation, then the 0.1 degree simplification)
    africa = max(rings, key=lambda r: sum(-20 < lon < 52 and -35 < lat < 37 for lon, lat in r))
    for place in ((20.0, -34.83), (-17.53, 14.73), (32.3, 31.27)):
        assert min(distance(place, a, b) for a, b in itertools.pairwise(africa)) < 0.25
    text = (Path(__file__).parents[2] / "vegdask/analysis/land_110m.README.md").read_text()
    assert "public domain" in text


def inside(point, polygons):
    """Even-odd rule: is the point inside the polygons (lists of (x, y))?"""
    x, y = point
    crossings = 0
    for polygon in polygons:
        for (x1, y1), (x2, y2) in itertools.pairwise([*polygon, polygon[0]]):
            if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
                crossings += 1
    return crossings % 2 == 1


def test_a_world_map_has_no_seams_at_the_antimeridian(tmp_path):
    """Sites across the world: the land crossing 180 degrees (Chukotka, Fiji) and around the
    pole (Antarctica) is drawn without lines across the map, and filled where the land is."""
    sites = {"a": (-170.0, 60.0), "b": (175.0, -20.0), "c": (0.0, -70.0), "d": (20.0, 70.0)}
    record = {"locations": {s: {"status": "pending", "longitude": lon, "latitude": lat}
                            for s, (lon, lat) in sites.items()}}  # fmt: skip
    write_campaign_index(str(tmp_path), record)
    page = Page((tmp_path / "index.html").read_text())
    ((svg, _),) = page.find("svg")
    west, east, south, north = (float(svg[f"data-{k}"]) for k in ("west", "east", "south", "north"))
    k = 960 / (east - west)
    stretch = 1 / math.cos(math.radians(abs(south + north) / 2))
    ((land, _),) = page.find("path", **{"class": "land"})
    polygons = [
        [tuple(map(float, p.split())) for p in part.split("L")]
        for part in re.findall(r"M([^MZ]+)Z", land["d"])
    ]
    height = float(svg["viewbox"].split()[3])
    shown = [
        abs(b[0] - a[0])
        for p in polygons
        for a, b in itertools.pairwise(p)
        if 0 <= a[1] <= height and 0 <= b[1] <= height  # not a pole's edge, off the map
    ]
    assert max(shown) < 960 / 4  # no coast runs a quarter of the world east-west in one segment

    def xy(lon, lat):
        return (lon - west) * k, (north - lat) * k * stretch

    assert inside(xy(0.0, -80.0), polygons)  # Antarctica
    assert inside(xy(178.0, -17.8), polygons)  # Viti Levu, Fiji
    assert inside(xy(-175.0, 66.5), polygons)  # Chukotka, east of 180
    assert inside(xy(175.0, 67.0), polygons)  # Chukotka, west of 180
    assert not inside(xy(-150.0, 0.0), polygons)  # the Pacific
    assert not inside(xy(-179.5, 40.0), polygons)  # the Pacific at the antimeridian


def table(text):
    """The table's rows by site: {column name: cell text}."""
    names = [html.unescape(n) for n in re.findall(r"<button type=\"button\">(.*?)</button>", text)]
    rows = {}
    for site, row in re.findall(r'<tr data-id="([^"]+)">(.*?)</tr>', text):
        cells = [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
        rows[html.unescape(site)] = dict(zip(names, map(html.unescape, cells), strict=True))
    return rows


def test_table_has_a_row_per_site_with_its_tests(campaign):
    rows = table((campaign["root"] / "index.html").read_text())
    assert list(rows) == list(SITES)  # campaign.json's order
    for site, entry in SITES.items():
        assert rows[site]["site"] == site
        assert rows[site]["status"] == entry["status"]
        assert rows[site]["verdict"] == expected_class(entry)
        assert rows[site]["synthetic rainfall (truth)"] == entry["synthetic_rainfall"]
    # offset50's and NDVI's AR(1): tau and p of the test the verdict used (pooled where it ran)
    tests = ("offset50 AR(1) τ", "offset50 AR(1) p", "NDVI AR(1) τ", "NDVI AR(1) p")
    assert [rows["sahel-1"][c] for c in tests] == ["0.31", "0.004", "0.12", "0.200"]
    assert [rows["kordofan"][c] for c in tests] == ["0.05", "0.400", "-0.30", "0.040"]
    assert [rows["short"][c] for c in tests] == ["0.20", "n/a", "0.10", "n/a"]
    assert [rows["broken"][c] for c in tests] == ["n/a"] * 4
    expected = ["pooled", "pooled", "mean-series", "pooled", "n/a", "n/a"]
    assert [rows[s]["test"] for s in SITES] == expected
    numbers = ("valid tiles", "periods", "wall time (s)", "CPU time (s)")
    # fetch and process seconds summed: 7.5 + 1.0 wall, 3.75 + 1.45 CPU
    assert [rows["sahel-1"][c] for c in numbers] == ["400", "48", "8.5", "5.2"]
    assert [rows["broken"][c] for c in numbers] == ["n/a"] * 4
    assert rows["broken"]["error"] == "process: ValueError: no scene"


def test_links_are_the_reports_and_records(page):
    links = sorted(a["href"] for a, _ in page.find("a"))
    reports = [f"locations/{s}/report.html" for s, e in SITES.items() if e["status"] == "done"]
    # each report twice (its marker and its row), the records once
    assert links == sorted(["campaign.json", "summary/summary.html", *reports, *reports])


def test_cross_location_figures_are_embedded(campaign, page):
    shown = sorted(a["src"] for a, _ in page.find("img"))
    written = sorted(
        "data:image/png;base64," + base64.b64encode(png).decode()
        for png in campaign["figures"].values()
    )
    assert shown == written


def test_self_contained(campaign):
    text = (campaign["root"] / "index.html").read_text()
    addresses = re.findall(r'(?:src|href)="([^"]*)"', text) + re.findall(r"url\(([^)]*)\)", text)
    assert addresses
    assert not [a for a in addresses if re.match(r"[a-z]+://|//", a)]
    assert "@import" not in text
    assert "<link" not in text


# --- in Chromium --------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=list(VIEWPORTS))
def browsed(request, campaign):
    """The page in Chromium at a width: problems, links, markers, the sorted tables."""
    from playwright.sync_api import sync_playwright

    name = request.param
    width, height = VIEWPORTS[name]
    problems, requests = [], []
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = chromium.new_page(viewport={"width": width, "height": height})
            tab.on("console", lambda m: m.type == "error" and problems.append(m.text))
            tab.on("pageerror", lambda err: problems.append(f"page error: {err}"))
            tab.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto((campaign["root"] / "index.html").as_uri(), wait_until="load")
            state = tab.evaluate(BROWSE)
            order = {}
            for column in ("valid tiles", "site"):
                button = tab.get_by_role("button", name=column, exact=True)
                button.click()
                order[f"{column} up"] = tab.evaluate(ROW_IDS)
                button.click()
                order[f"{column} down"] = tab.evaluate(ROW_IDS)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(ARTIFACTS / f"campaign-index-{name}.png"), full_page=True)
        finally:
            chromium.close()
    return {**state, "problems": problems, "requests": requests, "order": order, "width": width}


ROW_IDS = "() => [...document.querySelectorAll('tbody tr')].map(r => r.dataset.id)"
BROWSE = """() => {
    const svg = document.querySelector('svg.map'), land = svg.querySelector('path.land');
    const box = svg.getBoundingClientRect();
    const onLand = (lon, lat) => {  // the same projection as the markers'
        const [w, e, s, n] = ['west', 'east', 'south', 'north'].map(k => +svg.dataset[k]);
        const k = 960 / (e - w), stretch = 1 / Math.cos(Math.abs(s + n) / 2 * Math.PI / 180);
        const p = svg.createSVGPoint();
        p.x = (lon - w) * k; p.y = (n - lat) * k * stretch;
        return land.isPointInFill(p);
    };
    return {
        links: [...document.querySelectorAll('a[href]')].map(
            a => new URL(a.getAttribute('href'), document.baseURI).href),
        markers: [...svg.querySelectorAll('circle.site')].map(c => {
            const r = c.getBoundingClientRect();
            return {id: c.dataset.id, w: r.width, left: r.left, right: r.right, top: r.top,
                    bottom: r.bottom, fill: getComputedStyle(c).fill};
        }),
        map: {left: box.left, right: box.right, top: box.top, bottom: box.bottom},
        land: {sahel: onLand(2.6, 13.1), nile: onLand(32.5, 15.6),
               guinea_gulf: onLand(3.0, 2.0), red_sea: onLand(40.5, 17.0)},
        rows: document.querySelectorAll('tbody tr').length,
        scrollWidth: document.documentElement.scrollWidth,
        title: document.title,
    };
}"""


def rgb(colour):
    return "rgb({}, {}, {})".format(*(int(colour[i : i + 2], 16) for i in (1, 3, 5)))


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: apt-get install chromium")
class TestInChromium:
    def test_no_errors_and_no_request_leaves_the_folder(self, browsed, campaign):
        assert browsed["problems"] == []
        root = campaign["root"].as_uri()
        assert [u for u in browsed["requests"] if not u.startswith((root, "data:"))] == []
        assert browsed["title"] == "SYNTHETIC DATA: vegdask campaign: 6 sites"

    def test_every_link_resolves_to_a_file(self, browsed, campaign):
        targets = [Path(unquote(urlparse(u).path)) for u in browsed["links"]]
        assert len(targets) == 2 + 2 * 4  # campaign.json, summary, 4 reports on map and table
        assert [t for t in targets if not t.is_file()] == []
        assert all(t.is_relative_to(campaign["root"]) for t in targets)

    def test_one_visible_marker_per_site_inside_the_map(self, browsed):
        markers, box = browsed["markers"], browsed["map"]
        assert sorted(m["id"] for m in markers) == sorted(SITES)
        for m in markers:
            assert m["w"] >= 7  # wide enough to see and to tap, on a phone too
            assert box["left"] <= m["left"]
            assert m["right"] <= box["right"]
            assert box["top"] <= m["top"]
            assert m["bottom"] <= box["bottom"]
            assert m["fill"] == rgb(VERDICT_COLOURS[expected_class(SITES[m["id"]])])

    def test_land_and_sea_where_the_atlas_has_them(self, browsed):
        land = browsed["land"]
        assert land == {"sahel": True, "nile": True, "guinea_gulf": False, "red_sea": False}

    def test_sorting_a_column_reorders_the_rows(self, browsed):
        order = browsed["order"]
        tiles = {s: e.get("valid_tiles") for s, e in SITES.items()}
        counted = [s for s in SITES if tiles[s] is not None]
        missing = [s for s in SITES if tiles[s] is None]  # n/a last both ways
        assert order["valid tiles up"] == sorted(counted, key=tiles.get) + missing
        assert order["valid tiles down"] == sorted(counted, key=tiles.get, reverse=True) + missing
        assert order["site up"] == sorted(SITES)
        assert order["site down"] == sorted(SITES, reverse=True)
        assert order["site up"] != list(SITES)

    def test_fits_the_width(self, browsed):
        assert browsed["rows"] == len(SITES)
        assert browsed["scrollWidth"] <= browsed["width"]


# Three clusters of nearby sites, as the demo campaign's (a few km apart at a continent's scale).
CLUSTERED_AT = [(33.0, 12.0), (33.3, 11.6), (33.25, 11.5), (11.5, 14.6), (11.0, 14.6)]
CLUSTERED_AT += [(-14.8, 15.6), (-14.7, 15.7), (-14.1, 16.3)]
CLUSTERED = {
    f"{n:02d}": done(lon, lat, 1144, 48, 1.0, verdict(0.3, 0.01 if n % 2 else 0.5, bool(n % 2)))
    for n, (lon, lat) in enumerate(CLUSTERED_AT)
}


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed: apt-get install chromium")
def test_names_of_nearby_sites_do_not_cover_each_other_in_chromium(tmp_path):
    """Measured in the browser, with its fonts: every name shown, no two names' boxes overlap."""
    from playwright.sync_api import sync_playwright

    record = {"locations": CLUSTERED, "summary": {"locations": 8, "error": None}}
    write_campaign_index(str(tmp_path), record)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tab = chromium.new_page(viewport={"width": 1280, "height": 900})
            tab.goto((tmp_path / "index.html").as_uri(), wait_until="load")
            names = tab.evaluate(
                "() => [...document.querySelectorAll('svg.map g.names text')].map(t => {"
                "  const r = t.getBoundingClientRect();"
                "  return {name: t.textContent, box: [r.left, r.top, r.right, r.bottom]}; })"
            )
        finally:
            chromium.close()
    assert sorted(n["name"] for n in names) == sorted(CLUSTERED)
    assert "point at it for its name" not in (tmp_path / "index.html").read_text()  # all named
    for a, b in itertools.combinations(names, 2):
        (l1, t1, r1, b1), (l2, t2, r2, b2) = a["box"], b["box"]
        assert r1 <= l2 or r2 <= l1 or b1 <= t2 or b2 <= t1, (a, b)


def test_names_with_no_room_are_left_to_the_tooltips(tmp_path):
    """Twelve sites on one spot: not all names fit around it; the caption says how to find them."""
    sites = {f"site-{n:02d}": done(20.0, 10.0, 100, 48, 1.0) for n in range(12)}
    write_campaign_index(str(tmp_path), {"locations": sites, "summary": None})
    page = Page((tmp_path / "index.html").read_text())
    assert len(page.find("circle", **{"class": "site"})) == 12
    named = [t for _, t in page.find("text")]
    assert 0 < len(named) < 12
    assert len(set(named)) == len(named)
    ((_, caption),) = page.find("figcaption")
    assert "point at it for its name" in caption
