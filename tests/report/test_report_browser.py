"""report.html in a real browser (Chromium driven by Playwright): sections, figures, no errors.

Chromium comes from the system packages (``apt-get install chromium``; ``make test`` installs it
where apt-get can); Playwright's own browser download is not used.
"""

import base64
import json
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"
SECTIONS = [
    "Verdict",
    "Time series",
    "Deseasonalising (STL)",
    "Early-warning indicators",
    "Annual cycle: crystal-ball fit (pyveg G4, fixed)",
    "Spatial indicators (Kefi et al. 2014)",
    "Tile maps",
    "What the names mean",
    "Run details",
]
# Desktop and phone (an iPhone 12-15's CSS pixels).
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Chromium is not installed: apt-get install chromium (make test does it as root)",
    ),
]


def expected_figures(run):
    """Figure keys the report must hold, from the analysis outputs (not from the report)."""
    resilience = json.loads((run / "analysis" / "resilience.json").read_text())
    series = {s: inds for s, inds in resilience.items() if s != "location"}
    analysed = [s for s, inds in series.items() if inds["ar1"].get("p_value") is not None]
    stl = [s for s, inds in series.items() if inds["ar1"].get("deseasonalise") == "stl"]
    return {
        *(["verdict"] if "location" in resilience else []),
        "quicklooks",
        "timeseries",
        "lagged_correlation",
        "spatial",
        "tile_maps",
        *(f"stl_{s}" for s in stl),
        *(f"{kind}_{s}" for s in analysed for kind in ("ews", "surrogates", "sensitivity")),
    }


@pytest.fixture(scope="module", params=list(VIEWPORTS))
def page_state(request, demo_run):
    """Load the report in Chromium at a width; collect errors, headings, images, the verdict;
    save screenshots of the first screen and of the whole page."""
    from playwright.sync_api import sync_playwright

    name = request.param
    width, height = VIEWPORTS[name]
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url[:80]}"))
        page.goto((demo_run / "report.html").as_uri(), wait_until="load")
        state = page.evaluate(
            """() => ({
                h2: [...document.querySelectorAll('h2')].map(h => h.textContent),
                images: [...document.images].map(i => ({
                    src: i.getAttribute('src'), alt: i.alt, complete: i.complete,
                    natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
                    right: i.getBoundingClientRect().right,
                    caption: i.closest('figure')?.querySelector('figcaption')?.textContent,
                })),
                width: window.innerWidth,
                height: window.innerHeight,
                scrollWidth: document.documentElement.scrollWidth,
                title: document.title,
                first: document.querySelector('h2 + p').textContent,
                verdict: document.querySelector('.verdict').textContent,
                verdictBottom: document.querySelector('.verdict').getBoundingClientRect().bottom,
                firstTableTop: document.querySelector('table').getBoundingClientRect().top,
            })"""
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"report-{name}-first-screen.png"))
        page.screenshot(path=str(ARTIFACTS / f"report-{name}.png"), full_page=True)
        browser.close()
    return {**state, "problems": problems, "name": name}


def test_verdict_is_on_the_first_screen_above_every_table(page_state, demo_run, expected_headline):
    assert page_state["verdictBottom"] <= page_state["height"]
    assert page_state["verdictBottom"] <= page_state["firstTableTop"]
    # The headline's numbers as resilience.json has them: the pooled test's when it ran.
    resilience = json.loads((demo_run / "analysis" / "resilience.json").read_text())
    pooled = "location" in resilience
    series, ar1, _ = expected_headline(resilience)
    verdict = page_state["verdict"]
    assert {"offset50_mean": "offset50 AR(1)", "ndvi_mean": "NDVI AR(1)"}[series] in verdict
    assert ("pooled tau" in verdict) == pooled
    assert ("mean-series test" in verdict) == (not pooled)
    assert f"tau {ar1['kendall_tau']:.2f}, p = {ar1['p_value']:.3f}" in verdict


def test_synthetic_data_say_so_first(page_state):
    assert page_state["title"].startswith("SYNTHETIC DATA:")
    assert page_state["first"].startswith("Synthetic data")


def test_report_loads_without_errors(page_state):
    assert page_state["problems"] == []
    assert (ARTIFACTS / f"report-{page_state['name']}.png").read_bytes()[:4] == b"\x89PNG"


def test_every_section_is_there_in_order(page_state):
    assert page_state["h2"] == SECTIONS


def test_every_figure_is_shown_and_is_the_written_file(page_state, demo_run):
    images = page_state["images"]
    broken = [i["alt"] for i in images if not i["complete"] or i["natural"] == 0]
    assert broken == []
    assert all(i["alt"] and i["caption"] == i["alt"] for i in images)
    files = {p.stem: p.read_bytes() for p in (demo_run / "analysis").glob("*.png")}
    assert set(files) == expected_figures(demo_run)
    assert not list((demo_run / "analysis").glob("*.svg"))  # PNG only by default
    shown = sorted(i["src"] for i in images)
    prefix = "data:image/png;base64,"
    written = sorted(prefix + base64.b64encode(f).decode() for f in files.values())
    assert shown == written  # each figure once, byte for byte the file under analysis/


def test_figures_fit_the_page(page_state):
    assert page_state["scrollWidth"] <= page_state["width"]  # no sideways scrolling
    assert all(i["shown"] > 0 for i in page_state["images"])
    assert all(i["right"] <= page_state["width"] for i in page_state["images"])


def test_report_is_small(demo_run):
    assert (demo_run / "report.html").stat().st_size < 2_000_000


@pytest.mark.parametrize("name", list(VIEWPORTS))
def test_summary_page_fits_the_screen(tmp_path, name):
    """summary.html's wide table (every series x indicator x tau/p) scrolls in its own box."""
    from playwright.sync_api import sync_playwright

    from vegdask.analysis import summarise_runs

    runs = []
    for i in range(3):
        run = tmp_path / f"run{i}"
        (run / "analysis").mkdir(parents=True)
        entry = {"kendall_tau": 0.1 * i, "p_value": 0.5}
        series = ("offset50_mean", "ndvi_mean", "ndvi_veg_mean", "total_precipitation")
        indicators = ("ar1", "variance", "sd", "skewness", "kurtosis", "return_rate")
        resilience = {s: dict.fromkeys(indicators, entry) for s in series}
        (run / "analysis" / "resilience.json").write_text(json.dumps(resilience))
        runs.append(str(run))
    summarise_runs(runs, str(tmp_path / "summary"))
    width, height = VIEWPORTS[name]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto((tmp_path / "summary" / "summary.html").as_uri(), wait_until="load")
        page.click("summary")  # unfold the full table too
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        table_width = page.evaluate(
            "Math.max(...[...document.querySelectorAll('table')].map(t => t.scrollWidth))"
        )
        page.screenshot(path=str(ARTIFACTS / f"summary-{name}.png"))
        browser.close()
    assert table_width > width  # the full table is wider than the screen...
    assert scroll_width <= width  # ...and the page does not scroll sideways
