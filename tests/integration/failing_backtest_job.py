"""A backtest child that fails before it answers (as one killed, or with a bug, would), for
tests/integration/test_backtest.py: `python -m tests.integration.failing_backtest_job`."""

import sys

sys.exit(70)
