"""Data files shipped with the package (the demo sample); read with ``importlib.resources``."""

__all__: list[str] = []
