"""One router per resource; ``create_app`` includes them all (add a module, include its router)."""

__all__: list[str] = []
