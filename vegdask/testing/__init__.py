"""Test utilities that users can use too: emulators for Azure services and hypothesis strategies."""

__all__: list[str] = []
