"""``python -m marketplace_adapter.simulator``: the simulated Market API on a local port.

Everything for people goes to stderr; ``--write-demo-codes FILE`` writes the demo seed as a
codes file to start from.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from .app import DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Simulator
from .codes import DEMO_PRODUCT_CODE, demo_codes, load_codes_file
from .server import SimulatorServer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m marketplace_adapter.simulator",
        description="A local Alibaba Cloud Market API (DescribeLicense, ActivateLicense) that "
                    "checks V1 and V3 signatures and serves codes from a file.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port (8089; 0 picks a free one)")
    parser.add_argument("--codes", metavar="FILE",
                        help="codes file (JSON); without it, the demo codes are served")
    parser.add_argument("--access-key-id", default=DEMO_ACCESS_KEY_ID)
    parser.add_argument("--access-key-secret", default=DEMO_ACCESS_KEY_SECRET)
    parser.add_argument("--product-code", default=DEMO_PRODUCT_CODE,
                        help="product code of the demo codes (without --codes)")
    parser.add_argument("--dead-codes", choices=("status", "error"), default="status",
                        help="expired/discarded codes answer HTTP 200 with a status (default) "
                             "or HTTP 400 License.Expired/License.Discard")
    parser.add_argument("--time-format", choices=("plain", "iso"), default="plain",
                        help="'2019-05-25 09:00:00' in --market-tz (default) or '2016-05-18T14:14Z'")
    parser.add_argument("--market-tz", default="Asia/Shanghai")
    parser.add_argument("--write-demo-codes", metavar="FILE",
                        help="write the demo codes to FILE as a codes file and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.write_demo_codes:
        Path(args.write_demo_codes).write_text(
            json.dumps({"codes": demo_codes(product_code=args.product_code)}, indent=2) + "\n",
            encoding="utf-8")
        print(f"wrote the demo codes to {args.write_demo_codes}", file=sys.stderr)
        return 0
    try:
        codes = load_codes_file(args.codes) if args.codes else demo_codes(
            product_code=args.product_code)
        simulator = Simulator(codes, access_key_id=args.access_key_id,
                              access_key_secret=args.access_key_secret,
                              dead_code_style=args.dead_codes, time_format=args.time_format,
                              market_tz=args.market_tz)
    except (OSError, ValueError) as exc:
        print(f"error: cannot load the codes: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    server = SimulatorServer(simulator, args.host, args.port)
    demo = args.access_key_secret == DEMO_ACCESS_KEY_SECRET
    print(f"Market API simulator on {server.url} ({len(simulator.list_codes())} codes)\n"
          f"  access key id: {args.access_key_id}"
          + (f"\n  access key secret: {args.access_key_secret} (demo)" if demo else "")
          + f"\n  control interface: {server.url}/_control", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
