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
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..processes.launch import LaunchSpec
from ..wire.errors import SidecarError


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
        """The spec to run (the rule's resolved program, forced env applied), or ScopeDenied."""
        candidates = [rule for rule in self.rules if rule.names(spec.program)]
        if not candidates:
            raise _denied(spec, None, "program", f"{spec.program!r} is not a program the scope allows")
        refusal: SidecarError | None = None
        for rule in candidates:
            try:
                return _apply(rule, spec)
            except SidecarError as error:
                refusal = refusal or error  # report the first rule for this program: the closest
        assert refusal is not None
        raise refusal


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
        found = os.access(path, os.X_OK) and os.path.isfile(path)
    else:
        import shutil  # imported when a scope file is loaded only

        which = shutil.which(program)
        path = os.path.realpath(which) if which else None
        found = path is not None
    return Rule(
        label=label,
        program=program,
        path=path if found else None,
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
        resolved = Path(os.path.realpath(os.path.expanduser(root)))
        if not resolved.is_dir():
            raise ScopeFileError(f"{where}: cwd root {root!r} is not a directory")
        roots.append(resolved)
    return tuple(roots)


def _names(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ScopeFileError(f"{where}: env must be a list of variable names")
    return value


def _force_env(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise ScopeFileError(f"{where}: forceEnv must map names to strings")
    return dict(value)


def _denied(spec: LaunchSpec, rule: Rule | None, part: str, detail: str, **extra: Any) -> SidecarError:
    which = f" by rule {rule.label!r}" if rule is not None else ""
    return SidecarError(
        "ScopeDenied",
        f"The scope does not allow {spec.program!r}{which}: {detail}.",
        {"program": spec.program, "rule": rule.label if rule else None, "part": part, **extra},
    )


def _apply(rule: Rule, spec: LaunchSpec) -> LaunchSpec:
    if rule.path is None:
        raise _denied(spec, rule, "program", f"{rule.program!r} was not found when the scope was loaded")
    if rule.args is not None:
        if len(spec.args) != len(rule.args):
            raise _denied(spec, rule, "args", f"{len(spec.args)} arguments given, the rule takes exactly {len(rule.args)}",
                          expected=len(rule.args), received=len(spec.args))
        for index, (value, arg_rule) in enumerate(zip(spec.args, rule.args)):
            if not arg_rule.matches(value):
                raise _denied(spec, rule, "args", f"argument {index} {value!r} is not {arg_rule.describe()}",
                              index=index, received=value)
    if rule.cwd_roots is not None:
        cwd = Path(os.path.realpath(spec.cwd if spec.cwd is not None else os.getcwd()))
        if not any(cwd == root or root in cwd.parents for root in rule.cwd_roots):
            raise _denied(spec, rule, "cwd", f"working directory {str(cwd)!r} is outside the allowed roots",
                          received=str(cwd))
    refused = sorted(set(spec.env_changes) - rule.env_names)
    if refused:
        raise _denied(spec, rule, "env", f"it may not set {', '.join(refused)}", names=refused)
    env = spec.env
    if rule.force_env:
        env = {**(env if env is not None else os.environ), **rule.force_env}
    return dataclasses.replace(spec, program=rule.path, env=env)
