"""SMTP sink: aiosmtpd Controller on 127.0.0.1:PORT, in its own process so the driver's GIL does not
delay the arrival stamps; one line 'time<TAB>case<TAB>template' per message, flushed every 50 ms.
Usage: python sink.py PORT FILE   (prints READY; stops on SIGTERM, or after 4 h at most)"""
from __future__ import annotations

import re
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller

CASE = re.compile(rb"^X-Case:\s*(\S+)", re.M | re.I)
TPL = re.compile(rb"^X-Template:\s*(\S+)", re.M | re.I)


def main(port: int, path: str) -> None:
    out = open(path, "a", buffering=1 << 16)
    lock = threading.Lock()
    stop = threading.Event()

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            now = time.time()
            raw = envelope.original_content or envelope.content
            head = (raw.encode() if isinstance(raw, str) else raw).split(b"\r\n\r\n", 1)[0]
            c, t = CASE.search(head), TPL.search(head)
            line = f"{now:.6f}\t{c.group(1).decode() if c else '-'}\t{t.group(1).decode() if t else '-'}\n"
            with lock:
                out.write(line)
            return "250 OK"

    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("READY", flush=True)
    deadline = time.monotonic() + 4 * 3600  # bounded even if the parent vanishes without telling us
    while not stop.wait(0.05) and time.monotonic() < deadline:
        with lock:
            out.flush()
    ctl.stop()
    with lock:
        out.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2])
