"""This process's name among the replicas: `hostname:pid` (a pod's hostname is its name)."""

from __future__ import annotations

import os
import socket
from functools import cache


@cache
def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"
