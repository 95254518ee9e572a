"""The handlers of the protocol's methods. Each checks its params against protocol/ and does one thing."""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from typing import Any, Callable

from .. import __version__
from ..processes.launch import launch_spec
from ..processes.output_sinks import CollectedBudget
from ..processes.output_window import FlowControl
from ..processes.signals import SIGNALS, parse_signal
from ..processes.spawned import HostRoutes, SpawnedChild
from ..processes.supervisor import FORCE_AFTER_MS, Supervisor
from ..processes.terminal_child import PTY_SUPPORTED
from ..wire import protocol_files
from ..wire.dispatch import Handler, RequestContext
from ..wire.encodings import from_wire
from ..wire.errors import invalid_params
from ..wire.raw_channel import RawChannel
from ..wire.schema import Check, SchemaViolation, compile_schemas
from ..wire.stdout_writer import StdoutWriter
from .execute import execute
from .introspection import listing, tree_usage


def _params_checks() -> dict[str, Check]:
    """method name -> compiled check of its params, from methods.json and schemas/."""
    compiled = compile_schemas(protocol_files.schema_documents())
    return {
        name: compiled[entry["params"].rpartition("/")[2]]
        for name, entry in protocol_files.methods().items()
        if entry["direction"] == "host-to-sidecar"
    }


def _integers(params: dict) -> dict:
    """params with every integral float (1.0, 1e6) as an int, at any depth (params.pid, params.pty.cols,
    params.acks[].notifications). JSON Schema counts 1.0 as an integer, and hosts in Python or Lua send such
    numbers; converted here, no handler ever sees a float where it counts on an int."""

    def integers(value: Any) -> Any:
        if isinstance(value, float):
            # Only where a float is exact: beyond 2**53 it stays a float, which every bound of the schemas refuses.
            return int(value) if value.is_integer() and abs(value) <= 2**53 else value
        if isinstance(value, dict):
            return {key: integers(item) for key, item in value.items()}
        if isinstance(value, list):
            return [integers(item) for item in value]
        return value

    return integers(params)


def executable_dir() -> str:
    """The directory of this sidecar's executable (initialize's serverInfo.executableDir): the bundled binary's
    own, which a onefile one keeps in sys.executable although it runs unpacked elsewhere, and where Tauri puts
    every externalBin file; else that of the Python running it (not resolved: a venv's bin/ stays itself)."""
    return os.path.dirname(os.path.abspath(sys.executable))


def _checked(check: Check, handler: Handler) -> Handler:
    async def checked(context: RequestContext, params: dict) -> Any:
        params = _integers(params)
        try:
            check(params, "params")
        except SchemaViolation as violation:
            raise invalid_params(violation.field, violation.expected, violation.received, f"{violation}.") from None
        return await handler(context, params)

    return checked


class Handlers:
    def __init__(
        self, supervisor: Supervisor, stdout: StdoutWriter, raw: RawChannel, settings: Any,
        on_shutdown: Callable[[], None],
    ) -> None:
        self._supervisor = supervisor
        self._raw = raw
        self.flow = FlowControl()
        self._routes = HostRoutes(notify=stdout.notify, stdout=stdout, raw=raw, flow=self.flow)
        self._initialized = False
        self._collected = CollectedBudget(settings.max_collected_bytes)
        self._settings = settings
        self._on_shutdown = on_shutdown

    def by_method(self) -> dict[str, Handler]:
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
            "$/outputConsumed": self.output_consumed,
        }
        checks = _params_checks()
        missing = set(checks) ^ set(own)
        assert not missing, f"methods.json and the handlers disagree about {sorted(missing)}"
        return {name: _checked(checks[name], handler) for name, handler in own.items()}

    async def initialize(self, context: RequestContext, params: dict) -> dict:
        raw_channel = await self._raw.negotiate(params.get("rawChannel", {}).get("fd"))
        if not self._initialized:  # only the first initialize decides, as for the raw channel
            self._initialized = True
            self.flow.window_bytes = params.get("flowControl", {}).get("windowBytes")
            if "notificationBytes" in params:
                self._routes = dataclasses.replace(self._routes, notification_bytes=params["notificationBytes"])
        window = self.flow.window_bytes
        return {
            "serverInfo": {"name": "process-sidecar", "version": __version__, "executableDir": executable_dir()},
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
                "notificationBytes": self._routes.notification_bytes,
                "flowControl": {"windowBytes": window} if window is not None else None,
            },
        }

    async def spawn(self, context: RequestContext, params: dict) -> dict:
        spec = launch_spec(params, stdin_pipe=params.get("stdin", "pipe") == "pipe")
        raw = params.get("encoding") == "raw"
        if raw and not self._raw.is_open:
            raise invalid_params(
                "params.encoding", "utf-8 or base64 (raw needs a raw channel)", "raw",
                "params.encoding is raw, but no raw channel is open (see initialize rawChannel).",
            )
        pty = params.get("pty")
        spawned = SpawnedChild(spec, self._routes, raw=raw, pty=(pty["cols"], pty["rows"]) if pty else None)
        await self._supervisor.start(spec, spawned.child, addressable=True)
        context.after_response(spawned.announce)
        return {"pid": spawned.child.pid}

    async def execute(self, context: RequestContext, params: dict) -> dict:
        return await execute(context, params, self._supervisor, self._collected)

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
        self._supervisor.find(params["pid"]).resize(params["cols"], params["rows"])

    async def list_children(self, context: RequestContext, params: dict) -> dict:
        return listing(self._supervisor.spawned())

    async def stats(self, context: RequestContext, params: dict) -> dict:
        child = self._supervisor.find(params["pid"])
        return tree_usage(child.pid, self._supervisor.excluded)

    async def shutdown(self, context: RequestContext, params: dict) -> None:
        self.flow.lift()  # the children's last output and exits go out whatever was acknowledged
        await self._supervisor.stop_all()
        context.after_response(self._on_shutdown)

    async def cancel_request(self, context: RequestContext, params: dict) -> None:
        context.dispatcher.cancel(params["id"])

    async def output_consumed(self, context: RequestContext, params: dict) -> None:
        for ack in params["acks"]:
            self.flow.consumed(ack["pid"], ack["notifications"])
