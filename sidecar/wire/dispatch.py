"""JSON-RPC 2.0 over lines: parse, check the envelope, split batches, dispatch, answer.

jsonrpcserver does the method dispatch and builds the responses; it is imported here and nowhere else.
Around it this module fixes what it gets wrong for us: it answers a batch with one bad member with a
single error (the spec wants one per member), so batches are split here; it answers an invalid request
with id null even when the id is usable, so the envelope is checked here first (cheaply, instead of its
jsonschema validator, which costs ~50 us a request); its "Invalid params" for a TypeError raised inside
a method is never reached, because a handler takes the params as one dict and checks them against
protocol/; and a param named like the dispatcher's own arguments ("context") cannot collide with them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
import types
from types import ModuleType
from typing import Any, Awaitable, Callable, Coroutine, Generator

import orjson

from .errors import SidecarError, code_of, invalid_params, quoted, show


def _import_dispatching_modules() -> tuple[ModuleType, ...]:
    """jsonrpcserver's modules that dispatch: async_dispatcher (with what it imports), response, result,
    exceptions and sentinels, imported without running the package's __init__.

    That __init__ re-exports everything, so it also imports `main`, which compiles a jsonschema validator
    for the request envelope at import time (jsonschema, referencing, rpds, attrs: ~30 ms and ~6 MiB), and
    `server`, which imports http.server. The sidecar never uses either: it checks the envelope itself and
    passes its own validator, and it serves no HTTP. Startup is on the critical path of every host, so
    those imports are skipped. The dispatch itself is jsonrpcserver's own code, unchanged (see below).

    These modules stay private to this one: the bare package entry, and the submodules loaded under it, are
    taken out of sys.modules again, so a plain `import jsonrpcserver` elsewhere in the process (a test, say)
    is an ordinary, complete import.
    """
    if "jsonrpcserver" in sys.modules:  # imported in full already: use that
        from jsonrpcserver import async_dispatcher, exceptions, response, result, sentinels
    else:
        spec = importlib.util.find_spec("jsonrpcserver")
        if spec is None or spec.submodule_search_locations is None:
            raise ImportError("jsonrpcserver is not installed", name="jsonrpcserver")
        sys.modules["jsonrpcserver"] = importlib.util.module_from_spec(spec)
        try:
            from jsonrpcserver import async_dispatcher, exceptions, response, result, sentinels
        finally:
            for name in [name for name in sys.modules if name == "jsonrpcserver" or name.startswith("jsonrpcserver.")]:
                del sys.modules[name]
    return async_dispatcher, response, result, exceptions, sentinels


_async_dispatcher, _response, _result, _exceptions, _sentinels = _import_dispatching_modules()
# One request at a time, without the asyncio.gather (a task per request) that dispatch_to_response_pure puts
# around it: batches are split here anyway. The functions it composes but two: create_request, call (the call
# and its result or error), to_response and to_serializable. Not get_method and validate_args (dispatch_request):
# the method is looked up here already, to answer MethodNotFound with data, and every method takes the same two
# arguments (the context, and the params as one dict), so binding them to its signature checks nothing; it
# cost a quarter of the dispatch.
create_request = _async_dispatcher.create_request
call = _async_dispatcher.call
to_response = _async_dispatcher.to_response
to_serializable = _response.to_serializable
Success = _result.Success
JsonRpcError = _exceptions.JsonRpcError
NODATA = _sentinels.NODATA

log = logging.getLogger(__name__)

_MISSING = object()


class RequestContext:
    """Passed to every handler: the request's id, and hooks that run once its response is queued."""

    def __init__(self, dispatcher: "Dispatcher", request_id: Any) -> None:
        self.dispatcher = dispatcher
        self.id = request_id
        self._after_response: list[Callable[[], None]] = []

    def after_response(self, callback: Callable[[], None]) -> None:
        """Run `callback` right after this request's response is queued on stdout (before anything else)."""
        self._after_response.append(callback)

    def responded(self) -> None:
        callbacks, self._after_response = self._after_response, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Let `$/cancelRequest` for this request's id call `callback`; returns the undo."""
        return self.dispatcher.register_cancel(self.id, callback)


Handler = Callable[[RequestContext, dict], Awaitable[Any]]


@types.coroutine
def _resume(coroutine: Coroutine[Any, Any, None], awaited: Any) -> Generator[Any, Any, None]:
    """Go on with `coroutine`, which was run by hand until it yielded `awaited` (a future it waits for): yield
    that to the task that now drives this, then pass on what the task sends or throws, as `await` would."""
    while True:
        try:
            sent = yield awaited
        except GeneratorExit:
            coroutine.close()
            raise
        except BaseException as exc:  # CancelledError, or the exception of the future awaited
            try:
                awaited = coroutine.throw(exc)
            except StopIteration:
                return
        else:
            try:
                awaited = coroutine.send(sent)
            except StopIteration:
                return


async def _rest_of(coroutine: Coroutine[Any, Any, None], awaited: Any) -> None:
    await _resume(coroutine, awaited)


def error_response(request_id: Any, error: SidecarError) -> dict:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _invalid_request(field: str, message: str) -> SidecarError:
    return SidecarError("InvalidRequest", message, {"field": field})


def _envelope_problem(message: Any) -> tuple[Any, SidecarError] | None:
    """(id to answer with, error) when `message` is not a usable JSON-RPC 2.0 request, else None."""
    if not isinstance(message, dict):
        return None, _invalid_request("", f"A request must be a JSON object, got {show(message)}.")
    request_id = message.get("id", _MISSING)
    id_ok = request_id is _MISSING or request_id is None or (
        isinstance(request_id, (str, int)) and not isinstance(request_id, bool)
    )
    answer_id = request_id if id_ok and request_id is not _MISSING else None
    if message.get("jsonrpc") != "2.0":
        return answer_id, _invalid_request(
            "jsonrpc", f'jsonrpc must be "2.0", got {show(message.get("jsonrpc"))}.'
        )
    if not id_ok:
        return None, _invalid_request("id", f"id must be a string, an integer or null, got {show(request_id)}.")
    if not isinstance(message.get("method"), str):
        return answer_id, _invalid_request("method", f"method must be a string, got {show(message.get('method'))}.")
    if "params" in message and not isinstance(message["params"], (dict, list)):
        return answer_id, _invalid_request(
            "params", f"params must be an object or an array, got {show(message['params'])}."
        )
    return None


class Dispatcher:
    def __init__(self, handlers: dict[str, Handler], send_line: Callable[[bytes], None]) -> None:
        self._methods = {name: self._adapt(name, handler) for name, handler in handlers.items()}
        self._send_line = send_line
        self._tasks: set[asyncio.Task] = set()
        self._cancels: dict[Any, Callable[[], None]] = {}
        self._in_flight: dict[Any, int] = {}
        """Ids of the requests being answered (how many with that id)."""
        self._cancelled_early: set[Any] = set()
        """Ids cancelled while in flight, before their request could be cancelled (it had not started yet)."""

    # -- entry points ----------------------------------------------------------------------------------

    def handle_line(self, line: bytes) -> None:
        """One line from the host, answered at once if its handler never has to wait (a write whose bytes fit
        in the child's pipe, a kill, a list), else by a task of its own, so that none waits for another.

        The handler runs here, up to its first suspension, before the next line is even parsed: handlers
        start in the order their lines came (a $/cancelRequest is judged against exactly the requests
        before it). Only a handler that does suspend costs a task: the rest of its coroutine, driven from
        where it stopped (what Python 3.12's eager tasks do)."""
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self._send(error_response(None, SidecarError("ParseError", f"The line is not valid JSON: {exc}.")))
            return
        answer = self._answer(message)
        try:
            awaited = answer.send(None)
        except StopIteration:
            return  # answered already
        except Exception:  # a defect outside every handler (_answer answers for those): say so, go on
            log.exception("answering a request failed")
            return
        task = asyncio.get_running_loop().create_task(_rest_of(answer, awaited))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def line_too_long(self, limit: int, received: int) -> None:
        self._send(error_response(None, SidecarError(
            "MessageTooLarge",
            f"A line of {received} bytes exceeds the limit of {limit} bytes (--max-line-bytes); it was discarded.",
            {"limit": limit, "received": received},
        )))

    async def idle(self, timeout: float) -> None:
        """Wait (up to `timeout`) for the requests in flight to be answered."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    def register_cancel(self, request_id: Any, callback: Callable[[], None]) -> Callable[[], None]:
        """Let a cancel of `request_id` call `callback`; if one came already, call it now. Returns the undo."""
        self._cancels[request_id] = callback

        def undo() -> None:
            if self._cancels.get(request_id) is callback:
                del self._cancels[request_id]

        if request_id in self._cancelled_early:
            self._cancelled_early.discard(request_id)
            undo()
            callback()
        return undo

    def cancel(self, request_id: Any) -> None:
        """$/cancelRequest: cancel the request with that id now, or, if it is in flight but cannot be cancelled
        yet (an execute whose child is starting), as soon as it can be. A finished or unknown id is ignored."""
        callback = self._cancels.pop(request_id, None)
        if callback is not None:
            callback()
        elif request_id in self._in_flight:
            self._cancelled_early.add(request_id)

    # -- answering -------------------------------------------------------------------------------------

    async def _answer(self, message: Any) -> None:
        if isinstance(message, list):
            if not message:
                self._send(error_response(None, _invalid_request("", "A batch must not be empty.")))
                return
            contexts = [RequestContext(self, m.get("id") if isinstance(m, dict) else None) for m in message]
            try:
                answers = await asyncio.gather(*(self._answer_one(m, c) for m, c in zip(message, contexts)))
                batch = [self._encode(answer) for answer in answers if answer is not None]
                if batch:
                    # One copy of the answers (an execute's can be large): "[", a, ",", b, "]\n" joined once.
                    parts = [b","] * (2 * len(batch) + 1)
                    parts[0], parts[-1] = b"[", b"]\n"
                    parts[1::2] = batch
                    self._send_line(b"".join(parts))
            finally:
                for context in contexts:
                    context.responded()
        else:
            context = RequestContext(self, message.get("id") if isinstance(message, dict) else None)
            try:
                answer = await self._answer_one(message, context)
                if answer is not None:
                    self._send(answer)
            finally:
                context.responded()

    async def _answer_one(self, message: Any, context: RequestContext) -> dict | None:
        problem = _envelope_problem(message)
        if problem is not None:
            return error_response(*problem)
        is_notification = "id" not in message
        if is_notification:
            return await self._dispatch(message, context)
        request_id = message["id"]
        self._in_flight[request_id] = self._in_flight.get(request_id, 0) + 1
        try:
            return await self._dispatch(message, context)
        except Exception as exc:  # a defect: the request is still answered
            log.exception("answering %s failed", message["method"])
            return error_response(request_id, SidecarError(
                "InternalError", f"The sidecar failed answering {message['method']}: {exc!r}.",
                {"method": message["method"]},
            ))
        finally:
            left = self._in_flight.pop(request_id) - 1
            if left:
                self._in_flight[request_id] = left
            else:
                self._cancelled_early.discard(request_id)

    async def _dispatch(self, message: dict, context: RequestContext) -> dict | None:
        is_notification = "id" not in message
        method = message["method"]
        if method not in self._methods:
            if is_notification:
                log.debug("ignoring notification %s: no such method", quoted(method))
                return None
            return error_response(message["id"], SidecarError(
                "MethodNotFound", f"There is no method {quoted(method)!r}.", {"method": quoted(method)}
            ))
        params = message.get("params", {})
        if isinstance(params, list):
            expected = "an object of named params"
            error = invalid_params("params", expected, params, f"params must be {expected}, got an array.")
            return None if is_notification else error_response(message["id"], error)
        # The params travel to the handler as one positional argument, so that no name a host chooses (say
        # "context") can collide with the handler's own parameters.
        request = create_request({"method": method, "params": [params], **({} if is_notification else {"id": message["id"]})})
        # Nothing before a handler's first await suspends: handlers start in the order their lines came (a
        # $/cancelRequest is judged against exactly the requests that came before it).
        result = await call(request, context, self._methods[method])
        return None if is_notification else to_serializable(to_response(request, result))

    def _send(self, answer: dict) -> None:
        self._send_line(self._encode(answer, orjson.OPT_APPEND_NEWLINE))

    @staticmethod
    def _encode(answer: dict, option: int = 0) -> bytes:
        """The answer as JSON (with orjson's `option`); an answer that cannot be encoded becomes an InternalError
        for the same id, so that every request is answered whatever its handler returned."""
        try:
            return orjson.dumps(answer, option=option)
        except TypeError as exc:  # orjson.JSONEncodeError: too deep, not JSON, an integer too large
            log.error("cannot encode the answer to %s: %s", show(answer.get("id")), exc)
            return orjson.dumps(error_response(answer.get("id"), SidecarError(
                "InternalError", f"The sidecar could not encode its answer: {exc}."
            )), option=option)

    @staticmethod
    def _adapt(name: str, handler: Handler) -> Callable[..., Awaitable[Any]]:
        async def method(context: RequestContext, params: dict) -> Any:
            try:
                return Success(await handler(context, params))
            except SidecarError as error:
                data = NODATA if error.data is None else error.data
                raise JsonRpcError(error.code, error.message, data) from None
            except Exception as exc:
                log.exception("%s failed", name)
                raise JsonRpcError(
                    code_of("InternalError"), f"The sidecar failed inside {name}: {exc!r}.", {"method": name}
                ) from None

        return method
