"""Turn spawn/execute params into what the OS needs, and OS failures into SpawnFailed errors."""

from __future__ import annotations

import errno
import os
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..wire.errors import SidecarError, child_path, errno_name, invalid_params

if TYPE_CHECKING:
    from ..system import PinnedDirectory, PinnedFile


@dataclass(frozen=True)
class PinnedProgram:
    """The program file the scope checked, held open for the session so that the child runs that very file."""

    file: PinnedFile
    verify: Callable[[], None]
    """Raises ScopeDenied if the file at the spec's `program` is no longer `file`: the check made instead,
    where the child cannot execute through the descriptor."""


@dataclass(frozen=True)
class LaunchSpec:
    program: str
    args: list[str]
    cwd: str | None
    env: dict[str, str] | None
    """None: the child inherits the sidecar's environment as it is, with no copy made."""
    encoding: str
    stdin_pipe: bool
    env_changes: dict[str, str | None] = field(default_factory=dict)
    """The names the request set or removed, for the scope to check."""
    pinned_program: PinnedProgram | None = None
    """Set by the scope: the file it checked, which is what runs (see executable()); `program` is argv[0]."""
    pinned_cwd: PinnedDirectory | None = None
    """Set by the scope when it checked the working directory: the child starts in that very directory
    (start_cwd), which stays open until the start is over (release())."""

    @property
    def start_cwd(self) -> str | None:
        """Where the child starts: the directory the scope checked (/proc/self/fd/N on Linux), else `cwd`."""
        return self.pinned_cwd.start_path if self.pinned_cwd is not None else self.cwd

    def executable(self) -> tuple[str | None, tuple[int, ...]]:
        """(the path to execute when not `program`, the descriptors the child must keep across its exec).

        With a pinned program: its descriptor's path, with the descriptor kept (CPython's Popen closes every
        other descriptor before the exec, and a `#!` script's interpreter reads the script through that path
        after it); Popen executes that path with `program` as argv[0]. Where the system has no such path, the
        scope's identity check instead: ScopeDenied if the file at `program` is no longer the one checked,
        right before the start."""
        pin = self.pinned_program
        if pin is None:
            return None, ()
        if pin.file.exec_path is not None:
            return pin.file.exec_path, (pin.file.fd,)
        pin.verify()
        return None, ()

    def as_requested(self, exc: OSError) -> OSError:
        """`exc` naming the program or working directory as the request did, not the descriptor's path through
        which the child was started."""
        if exc.filename is None:
            pass
        elif self.pinned_program is not None and exc.filename == self.pinned_program.file.exec_path:
            exc.filename = self.program
        elif self.pinned_cwd is not None and exc.filename == self.pinned_cwd.start_path:
            exc.filename = self.cwd
        return exc

    def release(self) -> None:
        """Close what the scope held open for this start only (the working directory): once the child has
        started, or has failed to. Harmless twice."""
        if self.pinned_cwd is not None:
            self.pinned_cwd.close()


def _no_nul(value: str, field: str) -> None:
    # The OS takes C strings: a NUL would cut the argument short, so refuse it rather than guess.
    if "\0" in value:
        raise invalid_params(field, "a string without NUL characters", value, f"{field} must not contain a NUL character")


def _argv(params: dict) -> tuple[str, list[str]]:
    if "command" not in params:
        return params["program"], list(params.get("args", ()))
    try:
        argv = shlex.split(params["command"])
    except ValueError as exc:
        raise invalid_params(
            "params.command", "a command line with balanced quotes", params["command"],
            f"params.command cannot be split into arguments: {exc}",
        ) from None
    if not argv:
        raise invalid_params("params.command", "a command line naming a program", params["command"],
                       "params.command names no program")
    return argv[0], argv[1:]


def _environment(params: dict) -> dict[str, str] | None:
    changes: dict[str, str | None] = params.get("env") or {}
    if not changes and not params.get("clearEnv"):
        return None
    env = {} if params.get("clearEnv") else dict(os.environ)
    for name, value in changes.items():
        field = child_path("params.env", name)
        if not name or "=" in name or "\0" in name:
            raise invalid_params(field, "a variable name without '=' or NUL", name,
                           f"{field} is not a valid environment variable name")
        if value is None:
            env.pop(name, None)
        else:
            _no_nul(value, field)
            env[name] = value
    return env


def launch_spec(params: dict, *, stdin_pipe: bool) -> LaunchSpec:
    """Params already checked against the schema; this adds what a schema cannot say."""
    program, args = _argv(params)
    _no_nul(program, "params.program")
    for index, arg in enumerate(args):
        _no_nul(arg, f"params.args[{index}]")
    cwd = params.get("cwd")
    if cwd is not None:
        _no_nul(cwd, "params.cwd")
    return LaunchSpec(
        program=program,
        args=args,
        cwd=cwd,
        env=_environment(params),
        encoding=params.get("encoding", "utf-8"),
        stdin_pipe=stdin_pipe,
        env_changes=dict(params.get("env") or {}),
    )


_REASONS = {
    errno.ENOENT: "no such program",
    errno.EACCES: "permission denied (is it executable?)",
    errno.ENOEXEC: "not an executable format the system can run",
    errno.EMFILE: "the sidecar has too many open files",
    errno.ENFILE: "the system has too many open files",
    errno.EAGAIN: "the process limit is reached",
    errno.ENOMEM: "out of memory",
    errno.E2BIG: "the arguments and environment are too long",
}


def spawn_failure(spec: LaunchSpec, exc: OSError) -> SidecarError:
    """SpawnFailed naming the program (or the cwd, when that is what failed) with errno details, as the request
    named them (not as the scope's descriptors through which the child was started)."""
    spec.as_requested(exc)
    number = exc.errno or 0
    path = exc.filename if isinstance(exc.filename, str) else None
    if spec.cwd is not None and path == spec.cwd:
        what = {
            errno.ENOENT: "does not exist",
            errno.ENOTDIR: "is not a directory",
            errno.EACCES: "cannot be entered (permission denied)",
        }.get(number, exc.strerror or "cannot be used")
        message = f"Cannot start {spec.program!r}: working directory {spec.cwd!r} {what}."
    else:
        reason = _REASONS.get(number, exc.strerror or "unknown error")
        if number == errno.ENOENT and os.sep not in spec.program:
            reason = "no such program on PATH"
        message = f"Cannot start {spec.program!r}: {reason}."
    return SidecarError(
        "SpawnFailed",
        message,
        {"program": spec.program, "cwd": spec.cwd, "path": path, "errno": number, "code": errno_name(number or None)},
    )
