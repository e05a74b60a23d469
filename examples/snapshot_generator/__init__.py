"""Builders of the synthetic example snapshots that examples/generate_example.py writes."""
