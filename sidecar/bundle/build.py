"""Build the sidecar into a self-contained executable with PyInstaller, for desktop app bundles.

    python -m sidecar.bundle [--out DIR] [--onefile|--onedir] [--scope FILE] [--reuse]

The executable is named process-sidecar-<target triple> (say process-sidecar-x86_64-unknown-linux-gnu), the
name Tauri's bundle.externalBin looks for; the triple is the host of `rustc -vV` when rustc is installed,
else derived from this platform. PyInstaller builds for the machine it runs on only, so build on each
platform you ship. It is a build-time dependency (the `bundle` extra), never needed to run the result.

Layouts, as measured on Linux with PyInstaller 6 (what runs inside: sidecar/bundle/frozen.py; and the README):

- onefile (the default): one file, which is what externalBin takes. Its bootloader unpacks the app into a
  temporary _MEIxxxxxx directory, runs it as a second process and forwards signals to it (SIGTERM, SIGINT,
  SIGHUP, ...), then removes the directory. A SIGKILLed bootloader can do neither; tauri-plugin-shell's
  kill() is a SIGKILL, and it kills every child so when the app exits. The sidecar watches its parent
  (see session/server.py), and frozen.py adds what only the bundle can do: on Linux the Python process learns
  at once that the bootloader is gone (PR_SET_PDEATHSIG) and ends the session as on SIGTERM (every child
  tree stopped); and it then removes the unpacked directory itself.
- onedir: a folder holding the executable and its _internal/ directory. Nothing is unpacked, and on Linux
  the bootloader sets the library path and exec()s itself: one process, one pid, the fastest start. Good for
  Electron's extraResources or a VS Code extension; not for externalBin, which copies a single file. Its
  Python modules lie in _internal/ as .pyc files (PyInstaller's noarchive), which Python's own path finder
  loads, instead of in a PYZ archive that PyInstaller's importer decompresses module by module in Python
  code. Measured here, launch to the answer to initialize against `python -m sidecar`: 0.84x where the archive
  made it 1.02x, and through the TypeScript client (ts-client/bench, figure startup-onedir) 0.94x against
  1.14x. Onefile keeps the archive: it would have to unpack every .pyc at each start, which costs more than it
  saves. In both, PyInstaller's runtime hook for inspect (zipfile, pathlib and shutil imported before the
  sidecar's first line) is replaced by an empty one (hooks/): the onedir figure went from 1.10x to 1.04x.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from .frozen import SCOPE_NAMES

NAME = "process-sidecar"
PACKAGE_DIR = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------------------
# The target triple
# ---------------------------------------------------------------------------------------------------------

_ARCH = {
    "x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64",
    "i386": "i686", "i686": "i686", "x86": "i686", "armv7l": "armv7", "riscv64": "riscv64gc",
    "ppc64le": "powerpc64le", "s390x": "s390x",
}


def platform_triple() -> str:
    """This machine's Rust target triple, derived from the platform (what `rustc -vV` would say)."""
    machine = platform.machine().lower()
    arch = _ARCH.get(machine, machine)
    if sys.platform == "darwin":
        return f"{arch}-apple-darwin"
    if sys.platform == "win32":
        return f"{arch}-pc-windows-msvc"
    if sys.platform.startswith("linux"):
        libc = "musl" if platform.libc_ver()[0] != "glibc" else "gnu"
        if arch == "armv7":
            return f"armv7-unknown-linux-{libc}eabihf"
        return f"{arch}-unknown-linux-{libc}"
    return f"{arch}-unknown-{sys.platform.rstrip('0123456789')}"


def rustc_triple() -> str | None:
    """The host triple of `rustc -vV`, or None when rustc is missing or says nothing usable."""
    rustc = shutil.which("rustc")
    if rustc is None:
        return None
    try:
        out = subprocess.run([rustc, "-vV"], capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if line.startswith("host:"):
            return line.partition(":")[2].strip() or None
    return None


def target_triple() -> str:
    """rustc's host triple when its architecture is this Python's (PyInstaller cannot cross-build), else
    the platform's."""
    derived = platform_triple()
    host = rustc_triple()
    if host is not None and host.split("-")[0] == derived.split("-")[0]:
        return host
    return derived


def executable_name(triple: str) -> str:
    return f"{NAME}-{triple}" + (".exe" if "windows" in triple else "")


# ---------------------------------------------------------------------------------------------------------
# The build
# ---------------------------------------------------------------------------------------------------------

ENTRY_SCRIPT = """\
# Written by sidecar.bundle: the script PyInstaller freezes. See sidecar/bundle/frozen.py.
from sidecar.bundle.frozen import frozen_main

raise SystemExit(frozen_main())
"""


def _protocol_dir() -> Path:
    from ..wire.protocol_files import protocol_dir  # a source checkout's protocol/, or the wheel's sidecar/protocol

    return protocol_dir()


HOOKS_DIR = Path(__file__).resolve().parent / "hooks"
"""PyInstaller hooks of our own (see hooks/rthooks.dat)."""

EXCLUDED_MODULES = (
    "ssl", "_ssl", "_hashlib", "readline", "tkinter", "multiprocessing", "pkgutil",
    "jsonschema", "jsonschema_specifications", "referencing", "rpds", "attr", "attrs", "http.server",
)
"""Never imported by a session. Each found in the analysis costs more than its files: multiprocessing and
pkgutil bring runtime hooks that import them, and what they import, before the sidecar's first line runs.
jsonschema and what it needs (referencing, rpds, attrs), and http.server, come with jsonrpcserver's modules
`main` and `server`, which the sidecar never imports (wire/dispatch.py): 34 files and 1.4 MiB that a onefile
binary unpacked at every start."""


def pyinstaller_args(out: Path, work: Path, name: str, *, onefile: bool, scope: Path | None = None) -> list[str]:
    """The PyInstaller command line (without the program), for an entry script written to `work`, and a
    scope file already copied into `work` under one of SCOPE_NAMES."""
    return [
        "--noconfirm",
        "--log-level", "WARN",
        "--name", name.removesuffix(".exe"),
        "--onefile" if onefile else "--onedir",
        "--distpath", str(work / "dist"),
        "--workpath", str(work / "pyinstaller"),
        "--specpath", str(work),
        "--paths", str(PACKAGE_DIR.parent),
        # protocol_files.py looks for the schemas inside the package first.
        "--add-data", f"{_protocol_dir()}{os.pathsep}sidecar/protocol",
        *(["--add-data", f"{scope}{os.pathsep}sidecar"] if scope is not None else []),
        # Modules imported by name at run time (importlib), which PyInstaller's analysis cannot see, and
        # jsonrpcserver's request-schema.json, read with importlib.resources.
        "--collect-submodules", "sidecar",
        "--collect-submodules", "jsonrpcserver",
        "--collect-data", "jsonrpcserver",
        # Never imported by a session, though the analysis finds them: asyncio does without ssl, hashlib
        # without OpenSSL's _hashlib, nothing runs a process pool, jsonschema serves only jsonrpcserver's `main`.
        # Leaving them (and libssl, libcrypto, libreadline, rpds) out makes the binary smaller and, since
        # onefile unpacks everything at each start, quicker to start; without multiprocessing and pkgutil,
        # PyInstaller adds no runtime hooks for them.
        *[arg for module in EXCLUDED_MODULES for arg in ("--exclude-module", module)],
        # Our runtime hook for inspect in place of PyInstaller's, which imports zipfile, pathlib and shutil
        # before the sidecar's first line to serve inspect.getsourcefile, which the sidecar never calls.
        "--additional-hooks-dir", str(HOOKS_DIR),
        # onedir: modules as .pyc files that Python's path finder loads, not in a PYZ archive (see above).
        *([] if onefile else ["--debug", "noarchive"]),
        # Debug symbols (pyenv's libpython keeps them) are half the unpacked size; strip them on Linux.
        *(["--strip"] if sys.platform.startswith("linux") else []),
        "--noupx",
        str(work / "entry.py"),
    ]


def fingerprint(args: list[str], extra: bytes = b"") -> str:
    """A digest of everything that goes into the binary: the package's files, the protocol files, the
    interpreter, every installed distribution's version, PyInstaller's arguments, and `extra`."""
    digest = hashlib.sha256(extra)
    for root in (PACKAGE_DIR, _protocol_dir()):
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(sys.version.encode() + sys.executable.encode() + ENTRY_SCRIPT.encode())
    for dist in sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()):
        digest.update(dist.encode() + b"\0")
    digest.update("\0".join(args).encode())
    return digest.hexdigest()


def build(out: Path, *, onefile: bool = True, work: Path | None = None, reuse: bool = False,
          scope: Path | None = None, triple: str | None = None, log=print) -> Path:
    """Build the executable into `out` and return its path.

    onefile: out/process-sidecar-<triple>; onedir: out/process-sidecar-<triple>-onedir/process-sidecar-<triple>.

    With `scope` (a scope file, TOML or JSON), the binary always runs with that allow-list and refuses a
    --scope of its own command line. With `reuse`, a build whose inputs have not changed since the last
    one in `work` is kept as it is.
    """
    out = out.resolve()
    name = executable_name(triple or target_triple())
    work = (work or Path("build") / "bundle" / ("onefile" if onefile else "onedir")).resolve()
    # A onedir build is a folder; it must not take the onefile executable's name in the same `out`.
    folder = None if onefile else out / f"{name.removesuffix('.exe')}-onedir"
    result = out / name if folder is None else folder / name
    scope_text = b""
    baked_scope = None
    if scope is not None:
        from ..session.scope import Scope

        Scope.load(str(scope))  # a broken scope fails the build, not the app at its start
        scope_text = Path(scope).read_bytes()
        baked_scope = work / "scope" / SCOPE_NAMES[str(scope).endswith(".json")]
    args = pyinstaller_args(out, work, name, onefile=onefile, scope=baked_scope)
    stamp = work / "fingerprint"
    digest = fingerprint(args, scope_text)
    if reuse and result.is_file() and stamp.is_file() and stamp.read_text() == f"{digest} {result}\n":
        log(f"{result} is up to date")
        return result
    work.mkdir(parents=True, exist_ok=True)
    stamp.unlink(missing_ok=True)
    (work / "entry.py").write_text(ENTRY_SCRIPT)
    shutil.rmtree(work / "scope", ignore_errors=True)
    if baked_scope is not None:
        baked_scope.parent.mkdir()
        baked_scope.write_bytes(scope_text)
    log(f"building {result} with PyInstaller ({'onefile' if onefile else 'onedir'}); its warning that runtime hooks "
        "for inspect are already defined is expected: they are the sidecar's own (sidecar/bundle/hooks)")
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "PyInstaller", *args], check=True)
    out.mkdir(parents=True, exist_ok=True)
    if folder is None:
        # In one step: an app (or test) starting the previous binary never reads a half-written one.
        temporary = out / f".{name}.tmp"
        shutil.copy2(work / "dist" / name, temporary)
        os.replace(temporary, result)
    else:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.move(work / "dist" / name.removesuffix(".exe"), folder)
    if not result.is_file():
        raise RuntimeError(f"PyInstaller finished but {result} is missing")
    stamp.write_text(f"{digest} {result}\n")
    log(f"built {result} ({result.stat().st_size / 2**20:.1f} MiB) in {time.monotonic() - started:.0f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sidecar.bundle",
        description="Build process-sidecar-<target triple>, a self-contained executable of the sidecar, with "
        "PyInstaller (pip install 'process-sidecar[bundle]'). For Tauri: --out src-tauri/binaries.",
    )
    parser.add_argument("--out", type=Path, default=Path("dist"), help="where the executable goes (default dist)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--onefile", dest="onefile", action="store_true", default=True,
                      help="one file that unpacks itself at each start (default; what Tauri's externalBin takes)")
    mode.add_argument("--onedir", dest="onefile", action="store_false",
                      help="a folder: DIR/process-sidecar-<triple>-onedir/ holding the executable and _internal/")
    parser.add_argument("--work", type=Path, default=None,
                        help="PyInstaller's work files (default build/bundle/<mode>)")
    parser.add_argument("--scope", type=Path, default=None, metavar="FILE",
                        help="bake this scope file (TOML or JSON) into the binary: it always runs with that "
                        "allow-list, and refuses a --scope on its command line")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the last build in --work when nothing that goes into it has changed")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("PyInstaller") is None:
        parser.exit(2, "PyInstaller is missing: pip install 'process-sidecar[bundle]' (or 'pyinstaller>=6,<7')\n")
    from ..session.scope import ScopeFileError

    try:
        path = build(args.out, onefile=args.onefile, work=args.work, reuse=args.reuse, scope=args.scope)
    except ScopeFileError as exc:
        parser.exit(2, f"{exc}\n")
    print(path)
    return 0
