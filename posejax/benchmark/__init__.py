"""Benchmarks: `python -m posejax.benchmark <name>` prints a table and writes JSON.

Every benchmark reports medians of several timed runs after a warm-up, and compile time separately,
with the hardware it ran on. Speed targets live here and in the README, never in unit tests.
"""
