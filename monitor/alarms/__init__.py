"""The alarm engine, pure: rule settings, the engine fold, one alarm's lifecycle, baselines.

Nothing here reads a clock, does I/O or logs: time comes from the data, so live use and
replay share every path. Imports only :mod:`monitor.domain`.
"""
