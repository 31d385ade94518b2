"""``python -m devserver``: the whole service on http://127.0.0.1:3000 (``make run``).

Starts DynamoDB Local and moto's SES, creates the tables declared in ``template.yaml``, seeds demo
accounts, and serves every HttpApi route with the same handler code that runs on Lambda. Ctrl-C
(or SIGTERM) stops everything it started.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from types import FrameType

from devserver import stack


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m devserver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")))
    parser.add_argument("--quiet", action="store_true", help="no access log")
    args = parser.parse_args()

    local = stack.LocalStack(host=args.host, port=args.port, quiet=args.quiet)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        local.start()
        print(local.banner(), flush=True)
        stopped.wait()
    finally:
        print("\nStopping the local stack...", file=sys.stderr, flush=True)
        local.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
