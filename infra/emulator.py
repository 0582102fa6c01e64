"""A local deploy target: a moto server on 127.0.0.1 with the fixes moto's CloudFormation needs to
deploy this stack through change sets and to evaluate its policies (KMS key tags and policy, change-set
outputs, IAM inline policies: `pipelines.local_engine.cloudformation_patches`, listed with every other
moto patch in `pipelines.local_engine.moto_registry`).

The fixes are applied in-process while the server runs and undone when it stops, so they only take
effect for a server started here (the test fixture, or `python -m infra.emulator`), never for a
separately running moto.
"""

from __future__ import annotations

import argparse
import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pipelines.local_engine.cloudformation_patches import patched_cloudformation


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Start a patched moto server on 127.0.0.1 and yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    with patched_cloudformation():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
        server.start()
        try:
            host, bound_port = server.get_host_and_port()
            yield f"http://{host}:{bound_port}"
        finally:
            server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a patched moto server to deploy the stack to locally.")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    with moto_server(args.port) as url:
        print(f"moto listening on {url}; deploy with: lakehouse deploy --stage dev --endpoint-url {url}", flush=True)
        try:
            threading.Event().wait()  # serve until Ctrl-C: nothing to poll
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
