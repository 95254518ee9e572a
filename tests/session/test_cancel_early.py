"""A cancel takes effect whenever it arrives after its request: also in the same write as the execute,
before its child has even started (what the TypeScript client's AbortSignal does when a user aborts at once)."""

import json

from sidecar_client import Sidecar


def test_a_cancel_in_the_same_write_as_its_execute_stops_it(sidecar: Sidecar):
    for n in range(5):
        request_id = f"run{n}"
        sidecar._methods[request_id] = "execute"
        execute = {"jsonrpc": "2.0", "id": request_id, "method": "execute",
                   "params": {"program": "sleep", "args": ["30"]}}
        cancel = {"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": request_id}}
        sidecar.send_line(json.dumps(execute) + "\n" + json.dumps(cancel))
        response = sidecar.response(request_id, timeout=10)
        assert response["error"]["code"] == -32008, response
        assert response["error"]["data"]["reason"] == "cancelled"


def test_a_cancel_for_a_finished_request_does_not_reach_a_later_one_with_the_same_id(sidecar: Sidecar):
    sidecar._methods["again"] = "execute"
    sidecar.send({"jsonrpc": "2.0", "id": "again", "method": "execute", "params": {"program": "true"}})
    assert sidecar.response("again")["result"]["code"] == 0
    sidecar.notify("$/cancelRequest", {"id": "again"})
    del sidecar.responses["again"]
    sidecar.send({"jsonrpc": "2.0", "id": "again", "method": "execute", "params": {"program": "echo", "args": ["ok"]}})
    assert sidecar.response("again")["result"]["stdout"] == "ok\n"
