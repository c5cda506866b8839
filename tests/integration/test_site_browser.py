"""The built site in real headless Chromium: it loads without console errors, headers sort the
table, and a submission named like a script stays text (no dialog fires).

Needs Debian's chromium and chromium-driver (or any Chrome/chromedriver pair on PATH) and the
selenium package; skips when they are missing. Selenium is pointed at the local driver, so
nothing is downloaded.
"""

import shutil
import tempfile

import numpy as np
import pytest

from harness.render.site import build_site, track_page

selenium = pytest.importorskip("selenium", reason="the selenium package is not installed")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

pytestmark = pytest.mark.browser

EVIL = "<script>alert(1)</script>"
BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
DRIVER = shutil.which("chromedriver")


def record(submission: str, p_domain: float, p_general: float, description: str = "") -> dict:
    rng = np.random.default_rng(len(submission))
    dom = rng.binomial(1, p_domain, 100).astype(float).tolist()
    gen = rng.binomial(1, p_general, 100).astype(float).tolist()
    tasks = {"dom": {"role": "domain", "score": 100 * float(np.mean(dom)), "metric": "avg@1", "n": 100,
                     "item_scores": dom},
             "gen": {"role": "general", "score": 100 * float(np.mean(gen)), "metric": "avg@1", "n": 100,
                     "item_scores": gen}}
    return {"schema": 1, "track": "tiny", "track_version": "v1", "submission": submission,
            "description": description, "method": "sft", "hyperparameters": {}, "seed": 0, "status": "ok",
            "point": None, "tasks": tasks, "budget": {"within_budget": True, "caps": {}, "used": {}}}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    records = [record("base", 0.3, 0.8), record("sft", 0.7, 0.5), record("dft", 0.6, 0.7),
               record(EVIL, 0.5, 0.6, description="closes </script> & more")]
    build_site(records, out, {"tiny": "v1"}, generated_at="pinned")
    return out


@pytest.fixture(scope="module")
def browser():
    if BROWSER is None or DRIVER is None:
        pytest.skip("no headless Chromium: install chromium and chromium-driver (apt) to run browser tests")
    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    # Without these Chromium tries the network (updates, sync, QUIC) and can hang in a sandboxed CI.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def open_page(driver, path):
    driver.get(path.as_uri())
    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], errors
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - reading it is how selenium asks for a dialog


def column(driver, table_id, index):
    return [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody td:nth-child({index})")]


def test_index_loads_and_links_the_track(browser, site):
    open_page(browser, site / "index.html")
    link = browser.find_element(By.LINK_TEXT, "tiny")
    assert link.get_attribute("href").endswith(track_page("tiny"))


def test_track_page_sorts_and_shows_script_names_as_text(browser, site):
    open_page(browser, site / track_page("tiny"))
    submissions = column(browser, "table-leaderboard", 3)
    assert EVIL in submissions  # shown as the literal text
    assert any(text == "closes </script> & more" for text in column(browser, "table-leaderboard", 15))

    header = browser.find_element(By.XPATH, "//table[@id='table-leaderboard']//th[button='domain']")
    domain = lambda: [float(text.split()[0]) for text in column(browser, "table-leaderboard", 5)]  # noqa: E731
    before = column(browser, "table-leaderboard", 3)
    header.find_element(By.TAG_NAME, "button").click()
    assert header.get_attribute("aria-sort") == "descending"  # higher is better: best first
    assert domain() == sorted(domain(), reverse=True)
    assert column(browser, "table-leaderboard", 3) != before
    header.find_element(By.TAG_NAME, "button").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert domain() == sorted(domain())

    open_page(browser, site / track_page("tiny"))  # after the clicks: still no errors, no dialog


@pytest.fixture(scope="module")
def realistic_site(tmp_path_factory):
    """Entries with a method's full resolved hyperparameters (20+ settings), long names and descriptions."""
    from harness.methods import config_class

    out = tmp_path_factory.mktemp("realistic-site")
    records = []
    for i, (method, changes) in enumerate([("base", {}), ("sft", {}), ("sft", {"learning_rate": 1e-4}),
                                           ("talr", {"floor": 0.02}), ("kl", {"coef": 0.5}), ("lora", {"rank": 16}),
                                           ("grpo", {"num_generations": 4}), ("wise-ft", {})]):
        name = f"{method}-variant-{i}-with-a-rather-long-submission-name" if i else "base"
        rec = record(name, 0.3 + 0.08 * i, 0.8 - 0.05 * i, description="a longer description of what this entry "
                     "tries, as researchers write them, with a reason and a reference " * 2)
        rec["method"] = method
        rec["hyperparameters"] = config_class(method)(**changes).model_dump()
        rec["budget"] = {"within_budget": True, "caps": {"gradient_tokens": 1000, "rollouts": 100},
                         "used": {"gradient_tokens": 900, "rollouts": 40}}
        records.append(rec)
    build_site(records, out, {"tiny": "v1"}, generated_at="pinned")
    return out


def test_track_page_fits_1280_px_with_short_hyperparameter_cells(browser, realistic_site, tmp_path):
    import io

    browser.set_window_size(1280, 900)
    open_page(browser, realistic_site / track_page("tiny"))
    layout = browser.execute_script("""
        const table = document.getElementById('table-leaderboard');
        const box = table.parentElement;
        const column = [...table.querySelectorAll('thead th')].findIndex(th => th.textContent.trim() === 'hyperparameters');
        const cells = [...table.querySelectorAll('tbody tr')].map(tr => tr.children[column]);
        const lines = cells.map(td => {  // the cell's drawn text (a closed disclosure: its summary), in lines
            const style = getComputedStyle(td);
            const top = td.getBoundingClientRect().top + parseFloat(style.paddingTop);
            const details = td.querySelector('details');
            const range = document.createRange();
            range.selectNodeContents(td);
            const bottom = details ? details.getBoundingClientRect().bottom : range.getBoundingClientRect().bottom;
            return Math.round((bottom - top) / parseFloat(style.lineHeight));
        });
        return {viewport: document.documentElement.clientWidth, page: document.documentElement.scrollWidth,
                table: table.scrollWidth, box: box.clientWidth, lines: lines,
                texts: cells.map(td => td.firstChild ? td.firstChild.textContent : '')};
    """)
    assert layout["page"] <= layout["viewport"], layout  # the page never scrolls sideways
    assert layout["table"] <= layout["box"], layout  # nor does the leaderboard table at 1280 px
    assert max(layout["lines"]) <= 4, layout  # a few lines, not a wall of every setting
    texts = sorted(text.strip() for text in layout["texts"])
    assert texts == sorted(["", "defaults", "learning_rate=0.0001", "floor=0.02", "coef=0.5", "rank=16",
                            "num_generations=4", "defaults"]), layout  # only what differs from the defaults
    details = browser.find_elements(By.CSS_SELECTOR, "#table-leaderboard details")
    assert len(details) == 7  # every entry with settings; the base model has none
    details[0].find_element(By.TAG_NAME, "summary").click()
    assert "gradient_accumulation_steps=1" in details[0].text  # the full resolved set behind the disclosure

    png = browser.get_screenshot_as_png()  # the layout as drawn: no column is cut off at the right edge
    (tmp_path / "track-1280.png").write_bytes(png)
    from PIL import Image

    shot = Image.open(io.BytesIO(png)).convert("RGB")
    assert shot.width == layout["viewport"] or shot.width >= 1200
    right = browser.execute_script(
        "return Math.max(...[...document.querySelectorAll('#table-leaderboard th')].map(th => th.getBoundingClientRect().right));")
    assert right <= shot.width


def test_scatter_points_carry_their_names_and_methods_their_descriptions(browser, realistic_site):
    browser.set_window_size(1280, 900)
    open_page(browser, realistic_site / track_page("tiny"))
    points = browser.find_elements(By.CSS_SELECTOR, "#scatter .point")
    names = column(browser, "table-leaderboard", 3)
    assert len(points) == len(names) == 8
    for number, (point, name) in enumerate(zip(points, names), start=1):
        assert point.get_attribute("title").startswith(f"#{number} {name}: domain ")
    key = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#scatter-key li")]
    assert key == [f"#{number} {name}" for number, name in enumerate(names, start=1)]
    svg = browser.find_element(By.CSS_SELECTOR, "#scatter svg").rect
    for point in points:  # every hover target sits inside the drawn figure
        r = point.rect
        assert svg["x"] <= r["x"] + r["width"] / 2 <= svg["x"] + svg["width"]
        assert svg["y"] <= r["y"] + r["height"] / 2 <= svg["y"] + svg["height"]
    methods = column(browser, "table-leaderboard", 13)
    assert any("token weights" in text for text in methods)  # talr's one-line description


def test_track_page_reads_on_a_narrow_window(browser, realistic_site):
    browser.set_window_size(420, 900)
    open_page(browser, realistic_site / track_page("tiny"))
    widths = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth];")
    assert widths[1] <= widths[0], widths  # tables scroll inside their box; the page itself does not
    browser.set_window_size(1280, 900)
