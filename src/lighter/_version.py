"""The version of lighter, in a module of its own so that any module can read it."""

__all__ = ["__version__"]

__version__ = "0.1.0"
