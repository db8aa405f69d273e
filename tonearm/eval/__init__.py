"""Benchmark corpus and retrieval metrics (``tonearm eval``)."""
