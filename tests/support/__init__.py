"""Helpers shared by the tests and the benchmarks: fake servers, VIA files, runs, headless Chromium.

The tests reach this package as `support` (pytest puts `tests/` on `sys.path` for the
top-level conftest.py); the benchmarks put `tests/` there themselves (benchmarks/_common.py).
"""
