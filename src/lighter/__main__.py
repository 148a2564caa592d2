"""``python -m lighter`` runs the ``lighter`` command (DDP children re-run it this way too)."""

from lighter.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    main()
