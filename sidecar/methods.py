"""The handlers of the protocol's methods. Each checks its params against protocol/ and does one thing."""

from __future__ import annotations

import signal
from typing import Any, Callable

from . import __version__, protocol_files
from .child import ChildProcess
from .encodings import from_wire
from .errors import SidecarError
from .executing import execute
from .introspect import listing, tree_usage
from .launch import launch_spec
from .output import FramedOutput, HeldNotifications, StreamedOutput
from .outbox import Outbox
from .raw_channel import RawChannel
from .rpc import Handler, RequestContext
from .schema import Check, SchemaViolation, compile_schemas
from .signals import SIGNALS, parse_signal
from .supervisor import FORCE_AFTER_MS, Child, Supervisor
from .terminal import PTY_SUPPORTED, TerminalChild


def _params_checks() -> dict[str, Check]:
    """method name -> compiled check of its params, from methods.json and schemas/."""
    compiled = compile_schemas(protocol_files.schema_documents())
    return {
        name: compiled[entry["params"].rpartition("/")[2]]
        for name, entry in protocol_files.methods().items()
        if entry["direction"] == "host-to-sidecar"
    }


def _checked(check: Check, handler: Handler) -> Handler:
    async def checked(context: RequestContext, params: dict) -> Any:
        try:
            check(params, "params")
        except SchemaViolation as violation:
            raise SidecarError(
                "InvalidParams",
                f"{violation}.",
                {"field": violation.field, "expected": violation.expected, "received": violation.received},
            ) from None
        return await handler(context, params)

    return checked


class Methods:
    def __init__(
        self, supervisor: Supervisor, outbox: Outbox, raw: RawChannel, settings: Any, on_shutdown: Callable[[], None]
    ) -> None:
        self._supervisor = supervisor
        self._outbox = outbox
        self._raw = raw
        self._settings = settings
        self._on_shutdown = on_shutdown

    def handlers(self) -> dict[str, Handler]:
        own: dict[str, Handler] = {
            "initialize": self.initialize,
            "spawn": self.spawn,
            "execute": self.execute,
            "write": self.write,
            "closeStdin": self.close_stdin,
            "kill": self.kill,
            "resize": self.resize,
            "list": self.list_children,
            "stats": self.stats,
            "shutdown": self.shutdown,
            "$/cancelRequest": self.cancel_request,
        }
        checks = _params_checks()
        missing = set(checks) ^ set(own)
        assert not missing, f"methods.json and the handlers disagree about {sorted(missing)}"
        return {name: _checked(checks[name], handler) for name, handler in own.items()}

    async def initialize(self, context: RequestContext, params: dict) -> dict:
        raw_channel = await self._raw.negotiate(params.get("rawChannel", {}).get("fd"))
        return {
            "serverInfo": {"name": "process-sidecar", "version": __version__},
            "protocolVersion": protocol_files.protocol_version(),
            "capabilities": {
                "encodings": ["utf-8", "base64"],
                "signals": list(SIGNALS),
                "treeKill": True,
                "maxLineBytes": self._settings.max_line_bytes,
                "maxChildren": self._settings.max_children,
                "scope": self._settings.scope is not None,
                "rawChannel": raw_channel,
                "pty": PTY_SUPPORTED,
                "resize": PTY_SUPPORTED,
                "list": True,
                "stats": True,
            },
        }

    async def spawn(self, context: RequestContext, params: dict) -> dict:
        spec = launch_spec(params, stdin_pipe=params.get("stdin", "pipe") == "pipe")
        outbox = self._outbox
        held = HeldNotifications(outbox.notify)
        pid = lambda: child.pid  # noqa: E731 - the pid exists only once the child does
        raw = params.get("encoding") == "raw"
        if raw and not self._raw.is_open:
            raise SidecarError(
                "InvalidParams", "params.encoding is raw, but no raw channel is open (see initialize rawChannel).",
                {"field": "params.encoding", "expected": "utf-8 or base64 (raw needs a raw channel)",
                 "received": "raw"},
            )
        # Raw output is throttled by the channel it goes to; notifications by stdout.
        throttle = self._raw if raw else outbox
        child: Child
        if "pty" in params:
            # A terminal merges the child's stdout and stderr; it all comes as stdout (stderr only ends).
            output = (
                FramedOutput(self._raw, "stdout", pid, also_ends=("stderr",)) if raw
                else StreamedOutput("stdout", spec.encoding, pid, held)
            )
            child = TerminalChild(output, cols=params["pty"]["cols"], rows=params["pty"]["rows"])
        elif raw:
            child = ChildProcess(
                FramedOutput(self._raw, "stdout", pid),
                FramedOutput(self._raw, "stderr", pid),
                stdin_pipe=spec.stdin_pipe,
            )
        else:
            child = ChildProcess(
                StreamedOutput("stdout", spec.encoding, pid, held),
                StreamedOutput("stderr", spec.encoding, pid, held),
                stdin_pipe=spec.stdin_pipe,
            )
        # Until the spawn response is out, the child's output is held, and its pipes are not read further.
        # (Frames could go before it, the protocol allows that, but a raw child waits too: one rule for all.)
        child.pause_reading("unannounced")

        def finished(child: Child) -> None:
            # Its end frames are already written to the channel (the output closed before the child finished).
            throttle.release(child)
            code, sig = child.exit_status
            held.notify("exit", {"pid": child.pid, "code": code, "signal": sig})

        child.on_finished(finished)
        await self._supervisor.start(spec, child, addressable=True)
        throttle.throttle(child)

        def announce() -> None:
            held.release()
            child.resume_reading("unannounced")

        context.after_response(announce)
        return {"pid": child.pid}

    async def execute(self, context: RequestContext, params: dict) -> dict:
        return await execute(context, params, self._supervisor)

    async def write(self, context: RequestContext, params: dict) -> None:
        child = self._supervisor.find(params["pid"])
        await child.write(from_wire(params["data"], params.get("encoding"), "params.data"))

    async def close_stdin(self, context: RequestContext, params: dict) -> None:
        await self._supervisor.find(params["pid"]).close_stdin()

    async def kill(self, context: RequestContext, params: dict) -> None:
        sig = parse_signal(params.get("signal", "SIGTERM"))
        child = self._supervisor.find(params["pid"])
        default_force = FORCE_AFTER_MS if sig == signal.SIGTERM else None
        force_after_ms = params.get("forceAfterMs", default_force)
        self._supervisor.stop(child, sig, tree=params.get("tree", True), force_after_ms=force_after_ms)

    async def resize(self, context: RequestContext, params: dict) -> None:
        child = self._supervisor.find(params["pid"])
        if not isinstance(child, TerminalChild):
            raise SidecarError(
                "NotATerminal",
                f"Process {child.pid} was spawned without pty; it has no terminal to resize.",
                {"pid": child.pid},
            )
        child.resize(params["cols"], params["rows"])

    async def list_children(self, context: RequestContext, params: dict) -> dict:
        return listing(self._supervisor.spawned())

    async def stats(self, context: RequestContext, params: dict) -> dict:
        child = self._supervisor.find(params["pid"])
        return tree_usage(child.pid, self._supervisor.excluded)

    async def shutdown(self, context: RequestContext, params: dict) -> None:
        await self._supervisor.stop_all()
        context.after_response(self._on_shutdown)

    async def cancel_request(self, context: RequestContext, params: dict) -> None:
        context.dispatcher.cancel(params["id"])
