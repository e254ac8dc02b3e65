"""Benchmarks: commands that measure and report, run by hand (``make bench-*``), never timed in
the test suite."""
