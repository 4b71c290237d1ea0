"""The tests' data: facts of the tutorial's text (JSON), and learners' plausible mistakes (``mistakes``)."""
