"""Test support that ships with the package, so that other backends and benchmarks can use it."""

__all__: list[str] = []
