"""``python -m aurous_nb.sandbox``: serve the sandbox in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import sys

from aurous_nb.sandbox.config import SCOPES, SandboxConfig, new_api_key
from aurous_nb.sandbox.server import serve_forever


def _key_scope(text: str) -> tuple[str, str]:
    """``KEY:SCOPE`` for ``--extra-key``."""
    key, sep, scope = text.rpartition(":")
    if not sep or not key or scope not in SCOPES:
        raise argparse.ArgumentTypeError(f"expected KEY:SCOPE with SCOPE in {', '.join(SCOPES)}")
    return key, scope


def build_parser() -> argparse.ArgumentParser:
    defaults = SandboxConfig(api_key="")
    p = argparse.ArgumentParser(
        prog="python -m aurous_nb.sandbox",
        description="A local server that speaks the Aurous Labs v1 API with synthetic outputs.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    p.add_argument("--api-key", help="the key clients must send (default: a new al_live_ key)")
    p.add_argument("--credits", type=float, default=defaults.credits, help="starting credits")
    p.add_argument("--latency", type=float, default=defaults.latency, help="mean s per generation")
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed for every random choice")
    p.add_argument("--failure-rate", type=float, default=defaults.failure_rate)
    p.add_argument("--moderation-word", default=defaults.moderation_word)
    p.add_argument(
        "--time-factor",
        type=float,
        default=defaults.time_factor,
        help="speed-up of rate-limit refill and webhook retry delays",
    )
    p.add_argument("--output-ttl", type=float, default=defaults.output_ttl, help="seconds")
    p.add_argument(
        "--file-ttl", type=float, default=defaults.file_ttl, help="seconds an upload lives"
    )
    p.add_argument("--concurrency-limit", type=int, default=defaults.concurrency_limit)
    p.add_argument(
        "--chaos", type=float, default=defaults.chaos, help="fraction of faulty requests"
    )
    p.add_argument("--chaos-delay", type=float, default=defaults.chaos_delay)
    p.add_argument("--no-rate-limits", action="store_true", help="do not enforce token buckets")
    p.add_argument("--billing-mode", default=defaults.billing_mode, choices=["metered", "exempt"])
    p.add_argument(
        "--extra-key",
        type=_key_scope,
        action="append",
        default=[],
        metavar="KEY:SCOPE",
        help="another key of the team with scope read, write or full (repeatable)",
    )
    p.add_argument(
        "--revoked-key",
        action="append",
        default=[],
        metavar="KEY",
        help="a key answered 401 revoked_api_key (repeatable)",
    )
    p.add_argument(
        "--blocked-word",
        default=defaults.blocked_word,
        help="prompts / reference URLs containing it get 400 prompt_blocked / reference_blocked "
        "('' turns it off)",
    )
    p.add_argument(
        "--expire-rate",
        type=float,
        default=defaults.expire_rate,
        help="fraction of generations that end 'expired'",
    )
    p.add_argument(
        "--provider-timeout-rate",
        type=float,
        default=defaults.provider_timeout_rate,
        help="fraction of creates answered 504 provider_timeout",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    generated = args.api_key is None
    try:
        config = _config(args, generated)
    except ValueError as exc:  # e.g. --latency nan: exit 2 with usage, as argparse does
        name, _, rest = str(exc).partition(" ")
        parser.error(f"argument --{name.replace('_', '-')}: {rest}")
    with contextlib.suppress(KeyboardInterrupt):
        serve_forever(config, port=args.port, host=args.host, show_key=generated)
    return 0


def _config(args: argparse.Namespace, generated: bool) -> SandboxConfig:
    return SandboxConfig(
        api_key=new_api_key() if generated else args.api_key,
        credits=args.credits,
        latency=args.latency,
        seed=args.seed,
        failure_rate=args.failure_rate,
        moderation_word=args.moderation_word or None,
        time_factor=args.time_factor,
        output_ttl=args.output_ttl,
        file_ttl=args.file_ttl,
        concurrency_limit=args.concurrency_limit,
        chaos=args.chaos,
        chaos_delay=args.chaos_delay,
        rate_limits=not args.no_rate_limits,
        billing_mode=args.billing_mode,
        extra_keys=dict(args.extra_key),
        revoked_keys=tuple(args.revoked_key),
        blocked_word=args.blocked_word or None,
        expire_rate=args.expire_rate,
        provider_timeout_rate=args.provider_timeout_rate,
    )


if __name__ == "__main__":
    sys.exit(main())
