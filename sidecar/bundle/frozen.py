"""Inside the bundled binary: its entry point, and what a frozen sidecar does beyond `python -m sidecar`.

Layouts (see build.py): a onefile binary runs as a small bootloader plus this Python process; a onedir
binary is one process. This module must import nothing heavy at the top: the build imports it for
SCOPE_NAMES, and the binary runs it first.
"""

from __future__ import annotations

import os
import signal
import sys

# os.path, not pathlib, and shutil only when used: a onedir binary runs this first, and should start as
# quickly as `python -m sidecar`, which imports neither before its first answer.
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))

SCOPE_NAMES = ("bundled-scope.toml", "bundled-scope.json")
"""Where, inside the binary's sidecar/ folder, a scope baked in with --scope lies."""


def _restore_environment() -> None:
    """Give children the environment the host gave the sidecar, not the one the bootloader made for Python.

    The bootloader points LD_LIBRARY_PATH (DYLD_LIBRARY_PATH, LIBPATH) at the bundled libraries and keeps
    the host's value in <NAME>_ORIG; left as it is, a child such as git or python3 would load the bundle's
    libssl or libpython instead of its own. It also sets _PYI_* variables, which would make a copy of this
    executable started as a child (a nested sidecar) reuse this one's unpacked directory.
    """
    for name in [name for name in os.environ if name.startswith("_PYI_")]:
        del os.environ[name]  # the bootloader's notes to itself, and to copies of this very executable
    for name in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "LIBPATH"):
        original = os.environ.pop(f"{name}_ORIG", None)
        if original is not None:
            os.environ[name] = original
        elif name in os.environ and _is_bundle_path(os.environ[name]):
            del os.environ[name]


def _is_bundle_path(value: str) -> bool:
    bundle = os.path.normpath(getattr(sys, "_MEIPASS", ""))
    return any(os.path.normpath(part) == bundle for part in value.split(os.pathsep))


def _onefile_bootloader() -> tuple[bool, int | None, bool]:
    """(running from a onefile bundle, the pid of its bootloader, the bootloader is already gone).

    The bootloader is the parent, and runs this very executable as this very user; a parent that runs
    another one, or that this process may not inspect (init, a subreaper of another user), or that no
    longer exists, means the bootloader died and this process was re-parented.
    """
    unpacked = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or unpacked is None:
        return False, None, False
    executable = os.path.realpath(sys.executable)
    if os.path.dirname(executable) in (os.path.realpath(unpacked), os.path.dirname(os.path.realpath(unpacked))):
        return False, None, False  # onedir: the support files sit beside the executable
    import psutil

    parent = os.getppid()
    try:
        if os.path.realpath(psutil.Process(parent).exe()) == executable:
            return True, parent, False
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    except (OSError, psutil.Error):
        return True, None, False  # cannot tell: serve, unguarded
    return True, None, True


def _end_when_gone(bootloader: int) -> None:
    """Have the kernel SIGTERM this process the moment `bootloader` dies (Linux's PR_SET_PDEATHSIG).

    The sidecar also polls its parent once a second (session.server._watch_parent), on every platform; this
    makes it immediate, and covers the start-up before that watch exists.
    """
    from ..system import signal_when_parent_dies

    if not signal_when_parent_dies(signal.SIGTERM):
        return
    if os.getppid() != bootloader:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _arguments() -> list[str] | None:
    """The sidecar's command line: this one, plus `--scope <the baked-in file>` if the build had one (and
    then None, after a message, if this command line tries a --scope of its own, or --no-scope)."""
    argv = sys.argv[1:]
    here = os.path.join(getattr(sys, "_MEIPASS", os.path.dirname(PACKAGE_DIR)), "sidecar")
    baked = next((path for path in (os.path.join(here, name) for name in SCOPE_NAMES) if os.path.isfile(path)), None)
    if baked is None:
        return argv
    # argparse takes any unambiguous prefix of an option (--sc, --no), so refuse those too.
    options = [arg.split("=")[0] for arg in argv if arg.startswith("--") and len(arg.split("=")[0]) > 2]
    if any("--scope".startswith(option) or "--no-scope".startswith(option) for option in options):
        print("process-sidecar: this binary has its scope built in; --scope cannot change it", file=sys.stderr)
        return None
    return [*argv, "--scope", baked]  # last, so that it would win anyway


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def frozen_main() -> int | str | None:
    """The entry point of the bundled binary: the sidecar's own main, plus what the bundle needs.

    - The children get the host's environment back (see _restore_environment).
    - A scope baked in at build time always applies (see _arguments).
    - In a onefile bundle, if the bootloader is killed (SIGKILL: nothing can be forwarded), this process is
      told at once (on Linux; elsewhere the sidecar's parent watch notices within a second) and ends the
      session as on SIGTERM, so it never lingers until the host closes its stdin; then, as the bootloader
      cannot, it removes the directory it was unpacked into.
    """
    _restore_environment()
    onefile, bootloader, orphaned = _onefile_bootloader()
    # Until the sidecar installs its own handler (it ends the session on SIGTERM), SIGTERM ends it here,
    # through the clean-up below rather than by the default action.
    signal.signal(signal.SIGTERM, _terminated)
    status: int | str | None = 1
    try:
        if orphaned:  # killed while this process started: serve nobody
            raise SystemExit(128 + signal.SIGTERM)
        if bootloader is not None:
            _end_when_gone(bootloader)
        from ..cli import main as sidecar_main

        argv = _arguments()
        status = 2 if argv is None else sidecar_main(argv)
    except SystemExit as exc:
        status = exc.code
    if orphaned or (bootloader is not None and os.getppid() != bootloader):
        # Orphaned: nobody else will remove _MEIxxxxxx. Everything is loaded; exit without importing more.
        if "logging" in sys.modules:
            sys.modules["logging"].shutdown()
        import shutil

        shutil.rmtree(sys._MEIPASS, ignore_errors=True)  # type: ignore[attr-defined]
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status if isinstance(status, int) else 0 if status is None else 1)
    return status  # for SystemExit, as it came
