"""Benchmarks: one script per performance target; each prints its figure beside the target."""
