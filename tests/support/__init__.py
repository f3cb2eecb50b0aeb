"""Helpers shared by the tests and the benchmarks: the fake servers' base, VIA files, runs.

The tests reach this package as `support` (pytest puts `tests/` on `sys.path` for the
top-level conftest.py); the benchmarks put `tests/` there themselves (benchmarks/_common.py).
"""
