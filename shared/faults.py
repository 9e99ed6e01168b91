"""Fault-injection points for crash-recovery tests. Inert unless ``ATIENDE_FAULT`` names the
point: then the process dies on the spot (``os._exit``: no cleanup, no ack), the way a crash
or an OOM kill would. Only tests set it, on a service they run as a separate process."""

from __future__ import annotations

import os

CRASH_EXIT_CODE = 86


def crash_point(name: str) -> None:
    if os.environ.get("ATIENDE_FAULT") == name:
        os._exit(CRASH_EXIT_CODE)
