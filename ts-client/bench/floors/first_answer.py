"""The least a Python sidecar built on the same libraries can start in (the benchmark's start-up floor): import
what process-sidecar must, read one request line from stdin, answer it on stdout, exit.

    python first_answer.py bare      # Python alone
    python first_answer.py sync      # + orjson and jsonrpcserver's synchronous dispatch: no asyncio
    python first_answer.py asyncio   # + orjson and jsonrpcserver's asyncio dispatch, answered in asyncio.run

jsonrpcserver is imported as the sidecar imports it (sidecar/wire/dispatch.py): its dispatching modules only,
not the package's __init__, which compiles a jsonschema validator. ssl is refused as the sidecar refuses it.
"""

import os
import sys

sys.modules.setdefault("ssl", None)  # type: ignore[arg-type]


def import_libraries(dispatcher: str) -> None:
    import importlib
    import importlib.util

    import orjson  # noqa: F401

    spec = importlib.util.find_spec("jsonrpcserver")
    assert spec is not None
    sys.modules["jsonrpcserver"] = importlib.util.module_from_spec(spec)
    importlib.import_module(f"jsonrpcserver.{dispatcher}")


def answer() -> None:
    request_id = sys.stdin.buffer.readline().split(b'"id":')[1].split(b",")[0].split(b"}")[0]
    os.write(1, b'{"jsonrpc":"2.0","id":' + request_id + b',"result":{}}\n')


def main(mode: str) -> None:
    if mode == "bare":
        answer()
    elif mode == "sync":
        import_libraries("dispatcher")
        answer()
    else:
        import_libraries("async_dispatcher")
        import asyncio

        async def serve() -> None:
            answer()

        asyncio.run(serve())


main(sys.argv[1])
