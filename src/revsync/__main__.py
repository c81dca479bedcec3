"""Allow ``python -m revsync``."""

from revsync.entrypoints.cli.main import main

main()
