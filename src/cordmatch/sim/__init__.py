"""Simulation: synthetic registries and patients for demos, tests and benchmarks."""
