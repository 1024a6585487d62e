"""Free loopback ports for the services a run starts."""

from __future__ import annotations

import socket

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """Ask the kernel for an unused port on loopback.

    There is a short window before the server binds it; the launcher re-checks readiness, so a
    lost race shows as a clear start failure rather than a test talking to a stranger.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port
