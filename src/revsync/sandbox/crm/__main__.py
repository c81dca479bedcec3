"""``python -m revsync.sandbox.crm``: serve the CRM sandbox until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from revsync.sandbox.crm.sandbox import CrmSandbox, serve_until_signalled


def _announce(sandbox: CrmSandbox) -> None:
    print(sandbox.url, flush=True)  # the one line a supervising process reads


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve; prints the URL once listening."""
    parser = argparse.ArgumentParser(
        prog="python -m revsync.sandbox.crm",
        description="A Salesforce-compatible REST sandbox over HTTPS on loopback.",
    )
    parser.add_argument("--dir", type=Path, required=True, help="folder for data and certificate")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8443, help="0 for an ephemeral port")
    parser.add_argument("--seed", type=int, default=None, help="accounts to create in a new folder")
    parser.add_argument("--daily-limit", type=int, default=15000)
    parser.add_argument("--page-size", type=int, default=2000)
    args = parser.parse_args(argv)
    sandbox = CrmSandbox(
        args.dir,
        seed=args.seed,
        host=args.host,
        port=args.port,
        daily_limit=args.daily_limit,
        page_size=args.page_size,
    )
    try:
        serve_until_signalled(sandbox, _announce)
    except (OSError, ValueError) as exc:
        print(f"cannot serve the CRM sandbox: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
