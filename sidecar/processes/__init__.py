"""The processes: children, their trees, and what makes sure none is left behind.

A child on pipes (pipe_child) or on a terminal (terminal_child, line_discipline), both a `child.Child`;
from request params to what the OS runs (launch); where output goes (output_sinks) and how a spawned child is
wired to the host (spawned); the table of children that starts and stops them (supervisor); signals to whole
trees (signals, process_table); adopted orphans (orphans); and the guardian process that stops every tree
if the sidecar is killed (guardian).
"""
