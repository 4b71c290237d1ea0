"""``python -m echo_lab.bench``: the same as ``python -m echo_lab bench``."""

import sys

from .report import main

sys.exit(main())
