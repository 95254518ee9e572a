"""Bundling: building the sidecar into one self-contained executable (build), and that executable's entry
point (frozen). `python -m sidecar.bundle` builds it."""
