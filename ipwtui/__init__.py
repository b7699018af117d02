"""ipwtui: a terminal profiler of intelligence per watt."""

__version__ = "0.1.0"
