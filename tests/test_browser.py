"""The MLflow UI and optuna-dashboard on a finished study, in headless Chromium.

Needs Debian's chromium and chromium-driver (`.ci/run` installs them); skipped otherwise.
Screenshots go to a temporary directory; with REFRESH_SCREENSHOTS=1 they replace the committed
ones in experiments/results/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import optuna
import pytest
from conftest import FinishedSearch

from optuna_hamming import HammingGASampler
from optuna_hamming.tracking import trial_run_name
from tests.worker_pool import free_port, wait_for

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
RESULTS = Path(__file__).resolve().parents[1] / "experiments" / "results"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
        "chromium-driver; .ci/run does)",
    ),
]


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: experiments/results/ only when REFRESH_SCREENSHOTS=1."""
    if os.environ.get("REFRESH_SCREENSHOTS") == "1":
        RESULTS.mkdir(parents=True, exist_ok=True)
        return RESULTS
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    # Without the background-networking flags Chromium keeps dialling Google on this
    # closed network; --no-sandbox because CI runs as root.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1500,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def body_text(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def wait_for_text(driver: Any, *texts: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while True:
        text = body_text(driver)
        if all(t in text for t in texts) or time.monotonic() > deadline:
            return text
        time.sleep(0.5)


def load_until(driver: Any, url: str, text: str, *, tries: int, seconds_each: float) -> str:
    """Load `url` until its page shows `text`, reloading a page that stalls.

    The first load compiles MLflow's UI bundle in the browser, slow on a busy machine; CI
    once saw the page drawn without its runs table for 180 s, which a reload mends.
    """
    page = ""
    for _ in range(tries):
        driver.get(url)
        page = wait_for_text(driver, text, seconds=seconds_each)
        if text in page:
            break
    return page


def test_mlflow_ui_lists_the_trial_runs_and_the_final_model(
    finished_search: FinishedSearch, browser: Any, screenshots: Path
) -> None:
    from mlflow import MlflowClient
    from selenium.webdriver.common.by import By

    search = finished_search
    experiment = MlflowClient(search.tracking_uri).get_experiment_by_name(search.study_name)
    assert experiment is not None
    port = free_port()
    command = [
        sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", search.tracking_uri,
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/health")
        # The server's first search answers slowly (lazy imports, the store's first query):
        # pay for it here rather than inside the page's first fetch.
        runs = MlflowClient(f"http://127.0.0.1:{port}").search_runs([experiment.experiment_id])
        study = optuna.load_study(study_name=search.study_name, storage=search.storage)
        n_runs = len(study.trials) + 2  # the study's run, every trial, the final model
        assert len(runs) == n_runs
        url = f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs"
        # The table first says "0 matching runs" while its first fetch is on the way (seen in
        # a full `make test` on 2 busy cores): wait for the count itself.
        expected = f"{n_runs} matching runs"
        text = load_until(browser, url, expected, tries=4, seconds_each=60)
        assert expected in text, text
        # Child runs are folded under the study's run: unfold them.
        expander = browser.find_element(
            By.CSS_SELECTOR, "button[data-component-id*='runnamecellrenderer']"
        )
        expander.click()
        names = [trial_run_name(t.number, t.params, t.user_attrs) for t in study.trials]
        text = wait_for_text(browser, "final-model", names[0])
        for name in names:  # e.g. "t3 g0 64x2 relu adam"
            assert name in text
        assert "final-model" in text and "head" in text  # the logged model's name
        # The Dataset column: the features file's name, its digest beside it in the UI.
        dataset = Path(search.features).stem
        assert "Dataset" in text and text.count(dataset) >= len(names), text
        for close in browser.find_elements(By.CSS_SELECTOR, "button[aria-label='Close']"):
            close.click()  # the assistant panel hides the table's right half
        assert browser.save_screenshot(str(screenshots / "mlflow_ui_runs.png"))
        # The study's run charts one point per generation (step = generation).
        (parent,) = [r for r in runs if r.data.tags.get("optuna_hamming.role") == "study"]
        charts = (
            f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs/"
            f"{parent.info.run_id}/model-metrics"
        )
        text = load_until(browser, charts, "generation.best", tries=3, seconds_each=60)
        assert "generation.best" in text and "generation.hamming_min" in text, text
        time.sleep(2)  # the charts draw after their titles
        assert browser.save_screenshot(str(screenshots / "mlflow_ui_generation_charts.png"))
    finally:
        server.terminate()
        server.wait(timeout=30)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_optuna_dashboard_shows_the_study_with_its_ga_attributes(
    finished_search: FinishedSearch, browser: Any, screenshots: Path
) -> None:
    from optuna_dashboard import wsgi

    search = finished_search
    storage = optuna.storages.get_storage(search.storage)
    study_id = storage.get_study_id_from_name(search.study_name)
    port = free_port()
    httpd = make_server("127.0.0.1", port, wsgi(storage), handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        browser.get(f"http://127.0.0.1:{port}/dashboard/studies/{study_id}/trials")
        text = wait_for_text(browser, "ga.gene", "ga.origin")
        assert "ga.gene" in text and "ga.generation" in text and "ga.origin" in text
        study = optuna.load_study(study_name=search.study_name, storage=search.storage)
        first = study.trials[0]
        assert f"ga.gene {first.user_attrs['ga.gene']}" in text  # trial 0 is open
        # Its note: the genome in bits and words, how it was made, its run in the MLflow UI.
        text = wait_for_text(browser, "Trial 0, generation 0", "Made by")
        assert f"Genome {first.user_attrs['ga.gene']}" in text, text
        assert "a random genome of the first generation" in text
        assert "MLflow run: http://127.0.0.1:5000/#/experiments/" in text
        assert browser.save_screenshot(str(screenshots / "optuna_dashboard_trials.png"))
        child = next(t for t in study.trials if t.user_attrs["ga.origin"] != "initial")
        browser.get(
            f"http://127.0.0.1:{port}/dashboard/studies/{study_id}/trials?numbers={child.number}"
        )
        text = wait_for_text(browser, f"Trial {child.number}, generation", "Made by")
        parents = " and ".join(f"trial {p}" for p in child.user_attrs["ga.parents"])
        assert parents.split(" and ")[0] in text, text
        browser.get(f"http://127.0.0.1:{port}/dashboard/studies/{study_id}")
        wait_for_text(browser, search.study_name)
        assert browser.save_screenshot(str(screenshots / "optuna_dashboard_study.png"))
        # The study's note (its Note tab) is its generation table.
        browser.get(f"http://127.0.0.1:{port}/dashboard/studies/{study_id}/note")
        text = wait_for_text(browser, "Generations of the Hamming GA", "Hamming min")
        assert "Generations of the Hamming GA" in text and "Hamming min" in text, text
        for summary in HammingGASampler.generations(study).values():
            assert f"{summary['best']:.4f}" in text
        assert browser.save_screenshot(str(screenshots / "optuna_dashboard_generations.png"))
    finally:
        httpd.shutdown()
        thread.join(timeout=10)


def test_chromium_is_the_debian_build() -> None:
    assert shutil.which("chromium") == str(CHROMIUM)
