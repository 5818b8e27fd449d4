"""Benchmarks of aliyun-ops against the emulator: `.venv/bin/python -m bench` prints every figure.

Figures are measured in emulated seconds on a time-scaled emulator, ours and the old tool's replay
side by side in one run. They are printed, written to a JSON file on request, and never asserted.
"""
