"""Benchmark harness: Huddle against the reference RTC server (jupyter-collaboration 5.0.4).

Not part of the test suite. Run ``python -m bench --help``; results are described in
docs/PERFORMANCE.md.
"""
