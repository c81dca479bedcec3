"""``python -m revsync.sandbox.crm``: serve the CRM sandbox until SIGTERM or SIGINT."""

from __future__ import annotations

from collections.abc import Sequence

from revsync.sandbox.crm.sandbox import CrmSandbox
from revsync.sandbox.serving import process_arguments, serve_process


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve; prints the URL once listening."""
    parser = process_arguments(
        "revsync.sandbox.crm",
        "A Salesforce-compatible REST sandbox over HTTPS on loopback.",
        port=8443,
    )
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
    return serve_process(sandbox)


if __name__ == "__main__":
    raise SystemExit(main())
