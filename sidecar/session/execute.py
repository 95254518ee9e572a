"""The execute request: run a child to completion and answer with its status and all of its output.

A run can be stopped four ways (timeoutMs, maxBuffer, the total that all executes may hold, set by
--max-collected-bytes, and $/cancelRequest); each stops the whole tree (SIGTERM, then SIGKILL after
forceAfterMs), waits for it to be gone, and answers with an error of its own whose data holds what was
collected and why it stopped. Nothing is left running when the answer is sent.
"""

from __future__ import annotations

import signal
from typing import Any, Callable

from ..processes.launch import launch_spec
from ..processes.output_sinks import CollectedBudget, CollectedOutput
from ..processes.pipe_child import PipeChild
from ..processes.supervisor import FORCE_AFTER_MS, Supervisor
from ..wire.dispatch import RequestContext
from ..wire.encodings import from_wire
from ..wire.errors import SidecarError, invalid_params

MAX_BUFFER = 64 * 1024 * 1024


async def execute(context: RequestContext, params: dict, supervisor: Supervisor, budget: CollectedBudget) -> dict:
    stdin_pipe = params.get("stdin", "pipe") == "pipe"
    if not stdin_pipe and "input" in params:
        expected = 'stdin "pipe" (input is written to a pipe)'
        raise invalid_params("params.input", expected, params["input"][:60], 'params.input cannot be used with stdin "null".')
    spec = launch_spec(params, stdin_pipe=stdin_pipe)
    data = from_wire(params.get("input", ""), params.get("encoding"), "params.input")
    limit = params.get("maxBuffer", MAX_BUFFER)
    force_after_ms = params.get("forceAfterMs", FORCE_AFTER_MS)
    stopped: dict[str, Any] = {}
    child: PipeChild

    def stop(reason: str, **details: Any) -> None:
        if stopped or child.finished.done():
            return
        stopped.update(reason=reason, **details)
        supervisor.stop(child, signal.SIGTERM, force_after_ms=force_after_ms)

    def overflow(stream: str) -> Callable[[str], None]:
        def overflowed(reason: str) -> None:
            if reason == "maxBuffer":
                stop(reason, maxBuffer=limit, stream=stream)
            else:
                stop(reason, maxCollectedBytes=budget.total, stream=stream)

        return overflowed

    stdout = CollectedOutput(limit, budget, overflow("stdout"))
    stderr = CollectedOutput(limit, budget, overflow("stderr"))
    # The budget is given back once the answer, which holds the output, is on its way.
    context.after_response(stdout.release)
    context.after_response(stderr.release)
    child = PipeChild(stdout, stderr, stdin_pipe=stdin_pipe)
    await supervisor.start(spec, child, addressable=False)

    undo_cancel = context.on_cancel(lambda: stop("cancelled"))
    timer = None
    if "timeoutMs" in params:
        loop = child.finished.get_loop()
        timer = loop.call_later(params["timeoutMs"] / 1000, lambda: stop("timeout", timeoutMs=params["timeoutMs"]))
    try:
        if stdin_pipe:
            await _feed(child, data)
        await child.finished
    finally:
        undo_cancel()
        if timer is not None:
            timer.cancel()

    code, sig = child.exit_status
    result = {
        "code": code, "signal": sig,
        "stdout": stdout.take_text(spec.encoding), "stderr": stderr.take_text(spec.encoding),
    }
    if not stopped:
        return result
    reason = stopped["reason"]
    data_out = {**stopped, "pid": child.pid, **result}
    if reason == "timeout":
        raise SidecarError("TimedOut", f"{spec.program!r} ran longer than timeoutMs ({stopped['timeoutMs']} ms) and was stopped.", data_out)
    if reason == "maxBuffer":
        raise SidecarError(
            "MaxBufferExceeded",
            f"{spec.program!r} wrote more than maxBuffer ({limit} bytes) to {stopped['stream']} and was stopped.",
            data_out,
        )
    if reason == "maxCollectedBytes":
        raise SidecarError(
            "MaxBufferExceeded",
            f"{spec.program!r} was stopped: the output all executes hold together reached {budget.total} bytes "
            "(--max-collected-bytes).",
            data_out,
        )
    raise SidecarError("Cancelled", f"{spec.program!r} was stopped: the request was cancelled.", data_out)


async def _feed(child: PipeChild, data: bytes) -> None:
    """Write the input and close stdin. A child that exits without reading it all is not an error."""
    try:
        await child.write(data)
    except SidecarError:
        pass
    await child.close_stdin()
