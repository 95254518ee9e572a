"""The command line: `python -m sidecar` or `process-sidecar`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys

from . import __version__


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="process-sidecar",
        description="Own OS processes for a host that speaks line-delimited JSON-RPC 2.0 on this "
        "program's stdin and stdout (see protocol/PROTOCOL.md). Logs go to stderr.",
    )
    parser.add_argument("--max-line-bytes", type=_positive, default=64 * 1024 * 1024,
                        help="longest request line accepted (default 64 MiB)")
    parser.add_argument("--max-children", type=_positive, default=4096,
                        help="most live children at once (default 4096)")
    parser.add_argument("--scope", metavar="FILE",
                        help="an allow-list (TOML, or JSON if FILE ends in .json) of the programs, arguments, "
                        "working directories and environment names the sidecar may use; without it, anything")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                        help="what to log to stderr (default warning)")
    parser.add_argument("--version", action="version", version=f"process-sidecar {__version__}")
    return parser.parse_args(argv)


def _raise_open_file_limit() -> None:
    """Every child costs the sidecar three pipes: let it use all the descriptors the system allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass


def main(argv: list[str] | None = None) -> int:
    from .descriptors import host_descriptors
    from .log_output import setup_logging

    host_fds = host_descriptors()  # before the sidecar opens any descriptor of its own
    args = parse_args(argv)
    setup_logging(args.log_level)
    _raise_open_file_limit()
    from .guardian import Guardian
    from .scope import Scope, ScopeFileError
    from .server import Settings, serve  # after logging is set up: importing jsonrpcserver may log

    scope = None
    if args.scope is not None:
        try:
            scope = Scope.load(args.scope)
        except ScopeFileError as exc:
            print(f"process-sidecar: error: {exc}", file=sys.stderr)
            return 2
    else:
        logging.getLogger("sidecar").warning("no --scope given: the sidecar will run any program it is asked to")
    guardian = Guardian.start()  # forks: before asyncio starts any thread
    settings = Settings(max_line_bytes=args.max_line_bytes, max_children=args.max_children, scope=scope,
                        host_fds=host_fds)
    return asyncio.run(serve(settings, guardian))
