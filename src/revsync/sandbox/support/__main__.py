"""``python -m revsync.sandbox.support``: serve the support sandbox until SIGTERM or SIGINT."""

from __future__ import annotations

from collections.abc import Sequence

from revsync.sandbox.serving import process_arguments, serve_process
from revsync.sandbox.support.sandbox import SupportSandbox


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and serve; prints the URL once listening."""
    parser = process_arguments(
        "revsync.sandbox.support",
        "A Zendesk-compatible Support API sandbox over HTTPS on loopback.",
        port=8444,
    )
    parser.add_argument("--seed", type=int, default=None, help="organizations for a new folder")
    parser.add_argument("--rate-limit", type=int, default=700, help="requests per minute")
    args = parser.parse_args(argv)
    sandbox = SupportSandbox(
        args.dir, seed=args.seed, host=args.host, port=args.port, rate_limit=args.rate_limit
    )
    return serve_process(sandbox)


if __name__ == "__main__":
    raise SystemExit(main())
