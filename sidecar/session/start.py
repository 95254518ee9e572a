"""Starting a session from the command line: note the host's descriptors, set up logging and the open-file
limit, load the scope, fork the guardian, and serve until the session ends (sidecar.cli calls it)."""

from __future__ import annotations

import argparse
import sys
from typing import Callable


def start(argv: list[str] | None, parse_args: Callable[[list[str] | None], argparse.Namespace]) -> int:
    """The sidecar's life after the command line: its exit status. Imports come in the order the work
    needs them, so that nothing opens a descriptor before the host's are noted."""
    from ..system import open_descriptors, raise_open_file_limit

    host_fds = open_descriptors()  # before the sidecar opens any descriptor of its own
    args = parse_args(argv)
    # The sidecar speaks no TLS, but asyncio imports ssl to offer it: 4.5 MiB of RSS (OpenSSL) and a few ms of
    # start-up. Refused here, asyncio does without (as on a Python built without ssl).
    sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]
    import asyncio
    import logging

    from .logging_setup import setup_logging

    setup_logging(args.log_level)
    raise_open_file_limit()
    from ..processes.guardian import Guardian
    from .server import Settings, serve  # after logging is set up: importing jsonrpcserver may log

    scope = None
    if args.scope is not None:
        from .scope import Scope, ScopeFileError  # only with a scope (pathlib: start-up)

        try:
            scope = Scope.load(args.scope)
        except ScopeFileError as exc:
            print(f"process-sidecar: error: {exc}", file=sys.stderr)
            return 2
    elif not args.no_scope:
        logging.getLogger("sidecar").warning("no --scope given: the sidecar will run any program it is asked to")
    guardian = Guardian.start()  # forks: before asyncio starts any thread
    settings = Settings(max_line_bytes=args.max_line_bytes, max_children=args.max_children,
                        max_collected_bytes=args.max_collected_bytes, scope=scope, host_fds=host_fds)
    return asyncio.run(serve(settings, guardian))
