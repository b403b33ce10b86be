"""Product-key verification benchmark: the app's whole offline check of a key, against a raw
Ed25519 verification of the same signed bytes.

    .venv/bin/python bench/verify.py [--calls 20000] [--rounds 7] [--profile]

In-process, no HTTP, no database: an app in role ``environment`` that trusts one vendor key
(``LICENSE_PUBLIC_KEYS``, a JSON file, as a deployment ships it) checks a valid product key the
way the Settings page and activation do (``webapp.environment.activation.verify``: envelope,
trusted key by ``kid``, signature, terms), then the applicability checks (install ID, clock,
expiry, sequence: ``product_key.check_applicable``). The baseline is
``Ed25519PublicKey.verify(signature, signed_bytes)`` on the very bytes the key's signature covers.
Cases are interleaved in rounds (bench/_measure.py); the ratio is the target of issue 12 (1.3x).
Wall time and this process's CPU time are both printed: on a loaded machine (other processes on
the same cores) the CPU time per call is the steadier of the two.
``--profile`` prints a cProfile of the app's check, by own time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The repository, not bench/ (whose http.py would stand in for the standard library's http).
sys.path[0] = str(REPO)

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from bench._measure import measure  # noqa: E402
from webapp import create_app, product_key  # noqa: E402
from webapp.config import TestConfig  # noqa: E402

INSTALL_ID = "f0d3d4e6bf28c50c4c73dc77de53a6b9"
KID = "2026-11-a"
BASELINE = "raw Ed25519PublicKey.verify (baseline)"


def make_key(private: Ed25519PrivateKey) -> str:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    terms = product_key.License(
        id="8d4f1c9e-3b9a-4a41-9f0e-2f7b1a6c0d55", seq=3, type="subscription",
        channel="alibaba-marketplace", reference="****7Q2K",
        product="AutoMQ for Kafka ( BYOC Monthly Subscription License )", aku=40,
        issued_at=now - timedelta(hours=1), not_before=now - timedelta(hours=1),
        expires_at=now + timedelta(days=30))
    return product_key.sign(INSTALL_ID, terms, KID, private)


def build_app(folder: str, public_pem: str):
    keys_file = Path(folder) / "public-keys.json"
    keys_file.write_text(json.dumps({KID: public_pem}), encoding="utf-8")
    config = TestConfig().__dict__.copy()
    config.update(
        TESTING=False,
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.db",
        LICENSE_INSTANCE_PATH=folder,
        LICENSE_ROLE="environment",
        LICENSE_PUBLIC_KEYS=str(keys_file),
    )
    return create_app(config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="calls per case")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the app's check")
    args = parser.parse_args()

    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    text = make_key(private)
    envelope = product_key.decode(text)
    signature = product_key._signature_bytes(envelope["signature"]["value"])
    message = product_key.signed_bytes(envelope["installId"], KID, envelope["license"])
    public.verify(signature, message)

    with tempfile.TemporaryDirectory() as folder:
        app = build_app(folder, product_key.public_key_pem(public))
        from webapp.environment.activation import verify as app_verify

        now = datetime.now(timezone.utc)

        def whole_check():
            key = app_verify(text)
            product_key.check_applicable(key, install_id=INSTALL_ID, now=now, running_seq=2,
                                         running_id=None)
            return key

        with app.app_context():
            assert whole_check().license.seq == 3
            cases = {
                BASELINE: lambda: public.verify(signature, message),
                "app: activation.verify (steps 1-3)": lambda: app_verify(text),
                "app: steps 1-3 + check_applicable (4-7)": whole_check,
                "codec alone: product_key.verify, dict of keys": lambda: product_key.verify(
                    text, {KID: public}),
            }
            results = measure(cases, args.calls, args.rounds, warmup=200)
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.calls // 4):
                    whole_check()
                profiler.disable()

    base, base_cpu = results[BASELINE]
    print(f"{'case':<48} {'µs/call':>8} {'ratio':>7} {'CPU µs':>8} {'ratio':>7}")
    for name, (wall, cpu) in results.items():
        print(f"{name:<48} {wall * 1e6:>8.1f} {wall / base:>6.2f}x {cpu * 1e6:>8.1f} {cpu / base_cpu:>6.2f}x")
    print(f"key: {len(text)} characters; target: the app's whole check at most 1.30x the baseline")
    if args.profile:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
        print(out.getvalue())


if __name__ == "__main__":
    main()
