"""Benchmarks: scripts run as files (`python benchmarks/inbox.py`), each printing its figures
beside a baseline measured in the same run. A package only so that type checkers name its
modules `benchmarks.*` (`benchmarks/bridges.py` is not the `bridges` library)."""
