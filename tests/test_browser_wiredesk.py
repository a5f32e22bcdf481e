"""A person's path through the real Airflow UI in headless Chromium: log in, open Wiredesk Search from
the navigation, search, click a facet, read the filtered results and a quote card; then Feed Health.

The test starts what it needs: the demo coverage in the real Elasticsearch (its own index prefix) and
a real ``airflow api-server`` (UI, SimpleAuthManager login, the repository's plugin) in a temporary
AIRFLOW_HOME on a free port. Chromium and chromedriver are Debian's (``make test`` installs them);
Selenium never downloads a driver. Screenshots go to ``<data dir>/screenshots/``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from pipeline.settings import Settings
# The demo coverage and its module-scoped fixtures (own index prefix, indexed once, deleted after).
from test_plugin_wiredesk import DEMO_ARTICLES, demo_es, demo_settings, free_port  # noqa: F401

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 30  # seconds for any one thing to appear; the machine is shared
SPEAKER_FACET = ("css selector", "button.facet[data-param='speaker'][data-value='Lena Fischer']")

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(300)]


def airflow_env(home: Path, port: int, settings: Settings) -> dict[str, str]:
    """The environment of scripts/airflow.sh, in a temporary home, plus this test's WIREDESK_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "WIREDESK_"))}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "WIREDESK_ES_URL": settings.effective_es_url,
        "WIREDESK_INDEX_PREFIX": settings.index_prefix,
        "WIREDESK_DATA_DIR": str(settings.data_dir),
    })
    return env


def wait_for_health(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Until the api-server answers its health check; fails with the log's tail if it exits or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"airflow api-server exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/api/v2/monitor/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"airflow api-server did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    """End the api-server and its workers (its own process group)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@pytest.fixture(scope="module")
def airflow_url(demo_es, demo_settings, tmp_path_factory):
    """A real Airflow api-server (UI, login, plugin) with admin/admin, on a free port."""
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "passwords.json").write_text(json.dumps({"admin": "admin"}))
    port = free_port()
    env = airflow_env(home, port, demo_settings)
    migrate = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert migrate.returncode == 0, migrate.stdout[-2000:] + migrate.stderr[-2000:]
    log = home / "api-server.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "airflow", "api-server"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process, log)
        yield url
    finally:
        stop(process)


# -- the API behind the real Airflow login -------------------------------------------------------


def airflow_token(url: str) -> str:
    """A JWT from Airflow's token endpoint, as a script would get one."""
    response = httpx.post(url + "/auth/token", json={"username": "admin", "password": "admin"}, timeout=20)
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.mark.parametrize("path, status", [("/wiredesk/api/search?q=strike", 401), ("/wiredesk/api/feeds", 401),
                                          ("/wiredesk/", 303), ("/wiredesk/feeds", 303)])
def test_airflow_rejects_wiredesk_requests_without_login(airflow_url, path, status):
    response = httpx.get(airflow_url + path, follow_redirects=False, timeout=20)
    assert response.status_code == status
    if status == 303:
        assert response.headers["location"].startswith("/auth/login?next=")


def test_airflow_token_opens_the_search_api(airflow_url):
    headers = {"Authorization": f"Bearer {airflow_token(airflow_url)}"}
    result = httpx.get(airflow_url + "/wiredesk/api/search", params={"q": "strike"}, headers=headers,
                       timeout=20).json()
    assert result["total"] == 2
    tampered = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
    assert httpx.get(airflow_url + "/wiredesk/api/search", headers=tampered, timeout=20).status_code == 401


# -- the browser ---------------------------------------------------------------------------------


@pytest.fixture
def browser(tmp_path):
    """Headless Debian Chromium through Debian's chromedriver (no Selenium Manager, no downloads)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        assert Path(path).exists(), f"{path} is missing: `make test` installs chromium and chromium-driver"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1440,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot_dir() -> Path:
    """``<data dir>/screenshots`` of the checkout (WIREDESK_DATA_DIR or .data), kept after the test."""
    folder = Settings().data_dir / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextmanager
def screenshot_on_failure(driver, name: str):
    """Keep what the browser showed when a check failed (``<data dir>/screenshots/<name>-failed.png``)."""
    try:
        yield
    except Exception:
        driver.switch_to.default_content()
        driver.save_screenshot(str(screenshot_dir() / f"{name}-failed.png"))
        raise


def log_in(driver, wait, url: str) -> None:
    """Through Airflow's own login form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(url + "/")
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys("admin")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/auth/login" not in d.current_url)


def open_from_browse_menu(driver, wait, name: str) -> None:
    """Browse > ``name`` in the Airflow navigation, then into the page's frame."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.switch_to.default_content()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Browse']"))).click()
    item = (By.XPATH, f"//a[@role='menuitem' and normalize-space()='{name}']")
    wait.until(ec.element_to_be_clickable(item)).click()
    wait.until(ec.frame_to_be_available_and_switch_to_it((By.CSS_SELECTOR, f"iframe[title='{name}']")))


def texts(driver, selector: str) -> list[str]:
    """The visible text of every element matching ``selector``, read in one go (no stale elements)."""
    script = "return Array.from(document.querySelectorAll(arguments[0]), (e) => e.innerText);"
    return driver.execute_script(script, selector)


def settled(driver) -> bool:
    """The page has no search in flight (search.js marks the body while it loads)."""
    return driver.execute_script("return !document.body.classList.contains('loading');")


def waiter(driver):
    """Explicit waits that tolerate the page re-rendering under them."""
    from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (StaleElementReferenceException, ElementClickInterceptedException)
    return WebDriverWait(driver, WAIT, ignored_exceptions=ignored)


def search_and_filter(browser, wait, url: str) -> None:
    """Log in, open Wiredesk Search, search "strike", then filter by the speaker facet "Lena Fischer"."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    log_in(browser, wait, url)
    open_from_browse_menu(browser, wait, "Wiredesk Search")
    # With no query the page lists the newest coverage.
    wait.until(lambda d: settled(d) and len(texts(d, "#results .hit")) == len(DEMO_ARTICLES))
    browser.find_element(By.ID, "q").send_keys("strike", Keys.ENTER)
    wait.until(lambda d: settled(d) and "for “strike”" in texts(d, "#status")[0])
    assert len(texts(browser, "#results .hit")) == 2
    assert browser.find_elements(By.CSS_SELECTOR, "#results .hit mark"), "matches are highlighted"
    assert "Coastal Wire" in texts(browser, "#results .hit .source")
    wait.until(lambda d: d.find_element(*SPEAKER_FACET).click() or True)  # a re-rendered button is found again
    wait.until(lambda d: settled(d) and texts(d, "#active-filters .chip") and len(texts(d, "#results .hit")) == 1)


def test_search_page_in_the_airflow_ui(airflow_url, browser):
    from selenium.webdriver.common.by import By

    with screenshot_on_failure(browser, "wiredesk-search"):
        search_and_filter(browser, waiter(browser), airflow_url)
        hit = texts(browser, "#results .hit")[0]
        assert "Port strike enters second week" in hit and "Coastal Wire" in hit
        assert any("Lena Fischer — “Retailers will feel this" in t for t in texts(browser, ".quote-card"))
        card_link = browser.find_element(By.CSS_SELECTOR, ".quote-card footer a").get_attribute("href")
        title_link = browser.find_element(By.CSS_SELECTOR, "#results .hit .title").get_attribute("href")
        assert "/wiredesk/article?id=" in card_link and card_link == title_link  # the card links to its article
        assert browser.find_elements(By.CSS_SELECTOR, "#histogram .day"), "the per-day histogram is drawn"
        assert browser.find_element(*SPEAKER_FACET).get_attribute("aria-pressed") == "true"
        browser.switch_to.default_content()
        assert "/plugin/wiredesk" in browser.current_url  # still inside the Airflow UI
    path = screenshot_dir() / "wiredesk-search.png"
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000


def test_feed_health_page_in_the_airflow_ui(airflow_url, browser):
    wait = waiter(browser)
    with screenshot_on_failure(browser, "wiredesk-feeds"):
        log_in(browser, wait, airflow_url)
        open_from_browse_menu(browser, wait, "Feed Health")
        wait.until(lambda d: len(texts(d, "#feeds tbody tr")) == 2)
        rows = texts(browser, "#feeds tbody tr")
        assert "broken-wire" in rows[0] and "failing" in rows[0] and "HTTP 500" in rows[0]
        assert "failing: 1" in texts(browser, "#summary")[0]
        wait.until(lambda d: len(texts(d, "#runs tbody tr")) == 2)  # recent runs, newest first
        assert "wiredesk_ingest_articles" in texts(browser, "#runs tbody tr")[0]
        browser.switch_to.default_content()
    path = screenshot_dir() / "wiredesk-feeds.png"
    assert browser.save_screenshot(str(path)) and path.stat().st_size > 10_000
