"""The scope: an allow-list, fixed at launch, of what the sidecar may run.

In a Tauri or Electron app the webview's JavaScript is the least trusted part; a sidecar that runs
anything it is asked to would be a remote-code-execution gadget. The host's trusted side starts the
sidecar with `--scope FILE` (TOML or JSON); nothing on the wire can widen it.

    [[allow]]
    name = "git-log"                        # optional; names the rule in errors
    program = "git"                         # a name, resolved on PATH when the scope loads, or a path
    args = ["log", { validator = "^-n[0-9]{1,3}$" }, "--oneline"]   # or "any"
    cwd = ["~/projects"]                    # optional: the roots a child may run in
    env = ["GIT_DIR"]                       # optional: names the caller may set or remove
    forceEnv = { GIT_TERMINAL_PROMPT = "0" }  # optional: always set, over the caller's

Stricter than Tauri's shell scope where Tauri surprises: every argument position must match (a fixed
string is compared, never substituted), extra or missing arguments are refused rather than dropped,
`cwd` and `env` are checked, and the program that runs is the one resolved when the scope loaded, so a
caller cannot put a look-alike earlier on PATH.

What is checked is what is used (issue #14): the program file is opened when the scope loads and held, and
the child executes that very file through its descriptor; the working directory is opened once per request,
its real path is what is checked, and the child starts in that very directory through its descriptor. So
neither a file renamed over the program nor a symlink flipped between the check and the start gets a child
past the scope. How that is done, and what is left where the system cannot do it: sidecar.system
(pin_file, pin_directory) and LaunchSpec.executable.

A refusal names the rule that got furthest through the checks, in their order: program found, argument
count, argument values, cwd, env (a tie: the first of those rules).
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .. import system
from ..processes.launch import LaunchSpec, PinnedProgram, spawn_failure
from ..wire.errors import SidecarError

log = logging.getLogger(__name__)


class ScopeFileError(Exception):
    """The scope file cannot be used; the sidecar refuses to start (exit status 2)."""


@dataclass(frozen=True)
class ArgRule:
    fixed: str | None = None
    validator: re.Pattern | None = None

    def matches(self, value: str) -> bool:
        if self.fixed is not None:
            return value == self.fixed
        assert self.validator is not None
        return self.validator.fullmatch(value) is not None

    def describe(self) -> str:
        return repr(self.fixed) if self.fixed is not None else f"a match for /{self.validator.pattern}/"  # type: ignore[union-attr]


@dataclass(frozen=True)
class Rule:
    label: str
    program: str
    """As written in the scope: a bare name is matched by name, a path by its resolved path."""
    path: str | None
    """The executable that runs (resolved at load); None when it was not found then."""
    pinned: system.PinnedFile | None
    """That file, held open since the scope loaded (None with `path`)."""
    args: tuple[ArgRule, ...] | None
    """None: any arguments."""
    cwd_roots: tuple[Path, ...] | None
    env_names: frozenset[str]
    force_env: dict[str, str]

    def names(self, requested: str) -> bool:
        if os.sep in requested:
            return self.path is not None and os.path.realpath(requested) == self.path
        return os.sep not in self.program and requested == self.program


class Scope:
    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules

    @classmethod
    def load(cls, path: str) -> "Scope":
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise ScopeFileError(f"cannot read the scope file {path}: {exc.strerror}") from None
        import json  # here, not at the top: a sidecar without --scope never needs them (~4 ms of start-up)
        import tomllib

        try:
            document = json.loads(text) if path.endswith(".json") else tomllib.loads(text.decode())
        except (ValueError, UnicodeDecodeError) as exc:
            kind = "JSON" if path.endswith(".json") else "TOML"
            raise ScopeFileError(f"the scope file {path} is not valid {kind}: {exc}") from None
        if not isinstance(document, dict) or set(document) != {"allow"} or not isinstance(document["allow"], list):
            raise ScopeFileError(f"the scope file {path} must hold exactly one key, 'allow', a list of rules")
        return cls([_rule(entry, index) for index, entry in enumerate(document["allow"], start=1)])

    def authorize(self, spec: LaunchSpec) -> LaunchSpec:
        """The spec to run (the rule's program, pinned; the working directory it checked, pinned; forced env
        applied), or ScopeDenied from the rule that got furthest, or SpawnFailed for a working directory
        inside the roots that cannot be entered. The caller must release() the spec once the start is over."""
        candidates = [rule for rule in self.rules if rule.names(spec.program)]
        if not candidates:
            raise _denied(spec, None, "program", f"{spec.program!r} is not a program the scope allows")
        directory = _WorkingDirectory(spec)
        try:
            allowed = _first_allowed(candidates, spec, directory)
        except BaseException:
            directory.close()
            raise
        if allowed.pinned_cwd is None:
            directory.close()
        return allowed


class _Refusal(Exception):
    """A rule's ScopeDenied, with how far the request got through that rule's checks."""

    PROGRAM, ARGS_COUNT, ARGS_VALUES, CWD, ENV = range(5)

    def __init__(self, stage: int, error: SidecarError) -> None:
        super().__init__(error.message)
        self.stage = stage
        self.error = error


def _first_allowed(candidates: list[Rule], spec: LaunchSpec, directory: "_WorkingDirectory") -> LaunchSpec:
    furthest: _Refusal | None = None
    for rule in candidates:
        try:
            return _apply(rule, spec, directory)
        except _Refusal as refusal:
            if furthest is None or refusal.stage > furthest.stage:  # a tie keeps the first rule
                furthest = refusal
    assert furthest is not None
    raise furthest.error from None


class _WorkingDirectory:
    """The request's working directory, opened once, when a rule first checks it: every rule checks the same
    directory, and the child starts in the one that was checked (LaunchSpec.pinned_cwd)."""

    def __init__(self, spec: LaunchSpec) -> None:
        self._path = spec.cwd
        self._opened = False
        self._pinned: system.PinnedDirectory | None = None
        self._error: OSError | None = None

    def open(self) -> system.PinnedDirectory | None:
        """The directory held open; None without a requested cwd (the child inherits the sidecar's own,
        which is a directory, not a path: nothing can be swapped in). OSError if it cannot be opened."""
        if self._path is None:
            return None
        if not self._opened:
            self._opened = True
            try:
                self._pinned = system.pin_directory(self._path)
            except OSError as exc:
                self._error = exc
        if self._error is not None:
            raise self._error
        return self._pinned

    def close(self) -> None:
        if self._pinned is not None:
            self._pinned.close()


def _rule(entry: Any, index: int) -> Rule:
    where = f"scope rule {index}"
    if not isinstance(entry, dict):
        raise ScopeFileError(f"{where} must be a table/object, got {type(entry).__name__}")
    unknown = set(entry) - {"name", "program", "args", "cwd", "env", "forceEnv"}
    if unknown:
        raise ScopeFileError(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
    label = entry.get("name", f"#{index}")
    if not isinstance(label, str):
        raise ScopeFileError(f"{where}: name must be a string")
    where = f"scope rule {label!r}" if "name" in entry else where
    program = entry.get("program")
    if not isinstance(program, str) or not program:
        raise ScopeFileError(f"{where}: program must be a non-empty string")
    path: str | None
    if os.sep in program:
        path = os.path.realpath(os.path.expanduser(program))
    else:
        import shutil  # imported when a scope file is loaded only

        which = shutil.which(program)
        path = os.path.realpath(which) if which else None
    # Held from now on: that very file is what runs (see the module's docstring).
    pinned = system.pin_file(path) if path is not None and os.access(path, os.X_OK) else None
    return Rule(
        label=label,
        program=program,
        path=path if pinned is not None else None,
        pinned=pinned,
        args=_args(entry.get("args"), where),
        cwd_roots=_roots(entry.get("cwd"), where),
        env_names=frozenset(_names(entry.get("env", []), where)),
        force_env=_force_env(entry.get("forceEnv", {}), where),
    )


def _args(value: Any, where: str) -> tuple[ArgRule, ...] | None:
    if value == "any":
        return None
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ScopeFileError(f'{where}: args must be "any" or a list, got {value!r}')
    rules = []
    for position, item in enumerate(value):
        if isinstance(item, str):
            rules.append(ArgRule(fixed=item))
        elif isinstance(item, dict) and set(item) == {"validator"} and isinstance(item["validator"], str):
            try:
                rules.append(ArgRule(validator=re.compile(item["validator"])))
            except re.error as exc:
                raise ScopeFileError(f"{where}: args[{position}] validator is not a valid regex: {exc}") from None
        else:
            raise ScopeFileError(f"{where}: args[{position}] must be a string or {{validator = \"regex\"}}")
    return tuple(rules)


def _roots(value: Any, where: str) -> tuple[Path, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScopeFileError(f"{where}: cwd must be a list of directories")
    roots = []
    for root in value:
        expanded = os.path.expanduser(root)
        try:
            roots.append(Path(system.real_directory(expanded)))
            continue
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                raise ScopeFileError(f"{where}: cwd root {root!r} cannot be opened: {exc.strerror}") from None
            if exc.errno == errno.ENOTDIR or os.path.lexists(expanded):  # a file, or a symlink to nothing
                raise ScopeFileError(f"{where}: cwd root {root!r} is not a directory") from None
        # Nothing there (yet): kept as its path, below the real path of what exists of it now, so no working
        # directory matches it until it is created as a directory; a symlink put there later does not widen
        # the root, since working directories are compared by their real paths.
        log.warning("%s: cwd root %r does not exist; no working directory is inside it until it is created",
                    where, root)
        roots.append(Path(os.path.realpath(expanded)))
    return tuple(roots)


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScopeFileError(f"{where}: env must be a list of variable names")
    return value


def _force_env(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ScopeFileError(f"{where}: forceEnv must map names to strings")
    return dict(value)


def _refused(stage: int, spec: LaunchSpec, rule: Rule, part: str, detail: str, **extra: Any) -> _Refusal:
    return _Refusal(stage, _denied(spec, rule, part, detail, **extra))


def _denied(spec: LaunchSpec, rule: Rule | None, part: str, detail: str, **extra: Any) -> SidecarError:
    which = f" by rule {rule.label!r}" if rule is not None else ""
    return SidecarError(
        "ScopeDenied",
        f"The scope does not allow {spec.program!r}{which}: {detail}.",
        {"program": spec.program, "rule": rule.label if rule else None, "part": part, **extra},
    )


def _apply(rule: Rule, spec: LaunchSpec, directory: _WorkingDirectory) -> LaunchSpec:
    """The spec this rule allows, or its _Refusal (or SpawnFailed: a cwd inside its roots that cannot be
    entered, once everything else passed)."""
    if rule.path is None or rule.pinned is None:
        raise _refused(_Refusal.PROGRAM, spec, rule, "program",
                       f"{rule.program!r} was not found when the scope was loaded")
    if rule.args is not None:
        if len(spec.args) != len(rule.args):
            raise _refused(_Refusal.ARGS_COUNT, spec, rule, "args",
                           f"{len(spec.args)} arguments given, the rule takes exactly {len(rule.args)}",
                           expected=len(rule.args), received=len(spec.args))
        for index, (value, arg_rule) in enumerate(zip(spec.args, rule.args)):
            if not arg_rule.matches(value):
                raise _refused(_Refusal.ARGS_VALUES, spec, rule, "args",
                               f"argument {index} {value!r} is not {arg_rule.describe()}", index=index, received=value)
    pinned_cwd = None
    cannot_enter: SidecarError | None = None
    if rule.cwd_roots is not None:
        try:
            pinned_cwd = directory.open()
            real = pinned_cwd.real_path if pinned_cwd is not None else os.getcwd()
        except OSError as exc:
            # Nothing to enter: refused if the path leads outside the roots (which says nothing about what is
            # there), else SpawnFailed naming it, as the start itself would fail.
            real = os.path.realpath(spec.cwd) if spec.cwd is not None else os.getcwd()
            cannot_enter = spawn_failure(dataclasses.replace(spec, program=rule.path), exc)
        cwd = Path(real)
        if not any(cwd == root or root in cwd.parents for root in rule.cwd_roots):
            raise _refused(_Refusal.CWD, spec, rule, "cwd", f"working directory {real!r} is outside the allowed roots",
                           received=real)
    refused = sorted(set(spec.env_changes) - rule.env_names)
    if refused:
        raise _refused(_Refusal.ENV, spec, rule, "env", f"it may not set {', '.join(refused)}", names=refused)
    if cannot_enter is not None:
        raise cannot_enter
    env = spec.env
    if rule.force_env:
        env = {**(env if env is not None else os.environ), **rule.force_env}
    return dataclasses.replace(
        spec, program=rule.path, env=env, pinned_program=PinnedProgram(rule.pinned, _identity_check(rule, spec)),
        pinned_cwd=pinned_cwd,
    )


def _identity_check(rule: Rule, spec: LaunchSpec) -> Callable[[], None]:
    """LaunchSpec.executable's fallback: ScopeDenied unless the file at the rule's path is the one loaded."""
    pinned, path = rule.pinned, rule.path
    assert pinned is not None and path is not None

    def verify() -> None:
        if not pinned.still_at(path):
            raise _denied(spec, rule, "program", f"the file at {path!r} is no longer the one the scope loaded")

    return verify
