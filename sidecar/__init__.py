"""process-sidecar: owns OS processes on behalf of a host that speaks line-delimited JSON-RPC 2.0."""

__version__ = "0.1.0"
