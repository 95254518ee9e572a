"""The command line: `python -m sidecar` or `process-sidecar`.

Nothing here needs a POSIX system until the platform is checked: on Windows the sidecar refuses at once,
with one line, before importing anything that would fail there.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__

SUPPORTED_SYSTEMS = "Linux, macOS and the BSDs"


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _protocol_doc() -> str:
    """Where this copy's PROTOCOL.md is: inside an installed package (sidecar/protocol/, put there by the
    wheel build), or in a checkout's protocol/ beside it. A bundled binary has none a user could open (a
    onefile one unpacks into a directory that is gone once it exits): it names the document instead."""
    if not getattr(sys, "frozen", False):
        from .wire.protocol_files import protocol_dir

        try:
            return str(protocol_dir() / "PROTOCOL.md")
        except FileNotFoundError:
            pass
    return "PROTOCOL.md, in the Python package as sidecar/protocol/PROTOCOL.md"


class _Parser(argparse.ArgumentParser):
    """Builds its help only when it prints it. Every start parses a command line, so what only the help
    needs is not done then: finding PROTOCOL.md (pathlib), and asking the terminal for its width (shutil, and
    lzma, bz2 and zlib behind it), which argparse otherwise does for every add_argument."""

    _printing = False

    def format_help(self) -> str:
        self._printing = True
        self.description = (
            "Own OS processes for a host that speaks line-delimited JSON-RPC 2.0 on this\n"
            "program's stdin and stdout. Logs go to stderr.\n\n"
            f"The protocol: {_protocol_doc()}"
        )
        return super().format_help()

    def format_usage(self) -> str:
        self._printing = True
        return super().format_usage()

    def _get_formatter(self) -> argparse.HelpFormatter:
        if self._printing:
            return super()._get_formatter()
        return argparse.RawDescriptionHelpFormatter(prog=self.prog, width=78)  # checks metavars only: no width used


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = _Parser(
        prog="process-sidecar",
        # Raw: the path must not be wrapped (argparse breaks lines at hyphens).
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--max-line-bytes", type=_positive, default=64 * 1024 * 1024,
                        help="longest request line accepted (default 64 MiB)")
    parser.add_argument("--max-children", type=_positive, default=4096,
                        help="most live children at once (default 4096)")
    parser.add_argument("--max-collected-bytes", type=_positive, default=256 * 1024 * 1024,
                        help="most output all executes together may hold (default 256 MiB); the execute that "
                        "reaches it is stopped with MaxBufferExceeded")
    scoping = parser.add_mutually_exclusive_group()
    scoping.add_argument("--scope", metavar="FILE",
                         help="an allow-list (TOML, or JSON if FILE ends in .json) of the programs, arguments, "
                         "working directories and environment names the sidecar may use; without it, anything")
    scoping.add_argument("--no-scope", action="store_true",
                         help="run any program, as without --scope, but say so: no warning on stderr (for hosts "
                         "whose requests are all trusted, and for tests)")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"],
                        help="what to log to stderr (default warning)")
    parser.add_argument("--version", action="version", version=f"process-sidecar {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    if sys.platform == "win32":
        print(f"process-sidecar: runs on {SUPPORTED_SYSTEMS}; Windows is not supported yet.", file=sys.stderr)
        return 2
    else:
        # In this branch, not after it: mypy's check for win32 then follows none of these imports.
        from .session.start import start

        return start(argv, parse_args)
