"""The session: what ties the wire to the processes for one host.

The server (server) builds a session and ends it cleanly; the handlers of the protocol's methods (handlers,
execute, introspection) answer requests; the scope (scope) decides what may run; and the sidecar's own
process concerns: its signals (own_signals) and its logs (logging_setup). The command line is sidecar.cli.
"""
