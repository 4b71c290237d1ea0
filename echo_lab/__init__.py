"""echo_lab: run, record, draw and check selectors echo servers in a notebook.

Modules, each readable in one sitting:

* :mod:`echo_lab.seed`: the tutorial's server and client, as written.
* :mod:`echo_lab.fixed`: the same with the tutorial's pitfalls mended.
* :mod:`echo_lab.recorder`: a selector that records what the loop does.
* :mod:`echo_lab.background`: run a loop in a kernel thread.
* :mod:`echo_lab.client`: run a client, bounded, in the calling cell.
* :mod:`echo_lab.blocking`: run a blocking server function in a kernel thread.
"""

from .background import BackgroundServer, stop_all
from .blocking import BlockingServer
from .client import ClientResult, run_client
from .recorder import Event, Recorder, mask_name

__all__ = ["BackgroundServer", "BlockingServer", "ClientResult", "Event", "Recorder", "mask_name", "run_client",
           "stop_all"]
__version__ = "0.1.0"
