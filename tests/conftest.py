"""Fixtures the tests share.  Plain functions are in ``helpers.py``."""

import os

import pytest

from echo_lab import stop_all
from helpers import cannot
from lab import CHROMIUM, CHROMIUM_ARGS, ROOT, Lab


@pytest.fixture
def no_server_left():
    """Stop every background server a test started, however it ends.

    A module uses it for all its tests with ``pytestmark = pytest.mark.usefixtures("no_server_left")``.
    """
    yield
    stop_all()


@pytest.fixture
def sockets():
    """Close every socket a test registers here (``sockets(sock)`` returns it), however the test ends."""
    made = []

    def keep(sock):
        made.append(sock)
        return sock

    yield keep
    for sock in made:
        sock.close()


# JupyterLab and chromium for the browser tests (tests/test_browser.py, tests/test_accessibility.py): a module's
# own JupyterLab over a copy of the lessons (``lab``) or of the Chinese edition in JupyterLab's Chinese
# interface (``zh_lab``), one chromium per module, a new page per test.
@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = Lab(ROOT, tmp_path_factory.mktemp("lab"), trust=("notebooks/*.ipynb",))
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def zh_lab(tmp_path_factory):
    lab = Lab(ROOT, tmp_path_factory.mktemp("zh-lab"), folders=("zh-CN",), trust=("zh-CN/notebooks/*.ipynb",),
              locale="zh_CN")
    yield lab
    lab.close()


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        cannot("the browser tests", "Debian's chromium is not installed: sudo apt-get install chromium")
    from playwright.sync_api import sync_playwright  # only where a browser test runs

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    yield page
    page.close()
