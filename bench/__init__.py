"""Benchmarks of snapshot load, policy compile and evaluation, side by side with regorus.

``python -m bench.generate`` writes synthetic snapshots, ``python -m bench.run``
measures them; docs/benchmarks.md has the commands and the figures.
"""
