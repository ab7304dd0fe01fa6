"""This process's name among the replicas: `hostname:pid:random` (a pod's hostname is its
name; the random part tells apart a restarted process that got the same pid, as pid 1 in a
container always does)."""

from __future__ import annotations

import os
import secrets
import socket


def new_replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
