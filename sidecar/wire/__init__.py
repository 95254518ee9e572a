"""The wire: the protocol on the pipes to the host.

Lines in (framing, stdin_reader), JSON-RPC dispatch (dispatch, around jsonrpcserver), params checked against
protocol/ (schema, protocol_files), errors as data (errors), bytes as JSON strings (encodings), and the pipes
out: stdout (stdout_writer) and the raw channel (raw_channel, host_descriptors), both with backpressure onto
the children feeding them (host_pipe). It knows nothing of processes.
"""
