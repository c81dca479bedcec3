"""The ``revsync`` command line (Typer + Rich)."""
