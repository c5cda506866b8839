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
