"""Fixtures the tests share.  Plain functions are in ``helpers.py``."""

import pytest

from echo_lab import stop_all


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
