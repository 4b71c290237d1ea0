"""Root pytest configuration: nbval's sanitizer, found from any working directory."""

import pathlib

SANITIZE = pathlib.Path(__file__).parent / "tests" / "nbval_sanitize.cfg"


def pytest_configure(config):
    if hasattr(config.option, "nbval_sanitize_with") and not config.option.nbval_sanitize_with:
        config.option.nbval_sanitize_with = str(SANITIZE)
