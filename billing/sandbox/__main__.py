"""`python -m billing.sandbox --port P`: the Stripe fake alone, without Django (for `make
loadtest`, which runs Keel with production settings where `manage.py stripe_sandbox` refuses).
Prints `READY <url>` once it listens; events are only recorded (no webhook URL)."""

from __future__ import annotations

import argparse
import sys
import time

from billing.sandbox.fake import FakeStripe
from billing.sandbox.server import serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    fake = FakeStripe()
    server, url = serve(fake, options.host, options.port)
    fake.base_url = url
    sys.stdout.write(f"READY {url} {fake.webhook_secret}\n")
    sys.stdout.flush()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
