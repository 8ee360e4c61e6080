"""What a Batch settles when it is made: its client, whose purchases its keys name, its requests.

All of it happens before anything is priced or sent, so a wrong key, a bad request or an unknown
``reuse`` fails at the line that made the batch. The key stays masked (:mod:`aurous_nb.secret`)
until a run opens its client.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aurous_nb.work.spec import JobSpec


def buyer(ledger: Any, reuse: str) -> str | None:
    """Whose purchases a batch's keys name: the person on a team's ledger (``reuse="me"``),
    nobody on a local one (its keys stay what they always were) or with ``reuse="team"``."""
    from aurous_nb.config import ledger_url, user_name
    from aurous_nb.store.backend import is_postgres_url

    if reuse not in ("me", "team"):
        raise ValueError(f"reuse must be 'me' or 'team', not {reuse!r}")
    shared = ledger.shared if ledger is not None else is_postgres_url(ledger_url())
    if reuse == "team" or not shared:
        return None
    return str(ledger.user) if ledger is not None else user_name()


def clients(
    client: Any, api_key: str | None, base_url: str | None
) -> tuple[Any, Callable[[], Any]]:
    """The AsyncClient to share (None: one per run) and how to open one per run.

    A blocking ``Client`` lends its key, settings and rate-limit state to an AsyncClient
    opened (and closed) by each run, on that run's loop (``Client.to_async``).
    """
    from aurous_nb.client import AsyncClient, Client

    if isinstance(client, Client):
        return None, client.to_async

    from aurous_nb.secret import Secret

    # Held masked until each run opens its client (a blank key fails there, as it would now).
    key = Secret(api_key.strip()) if api_key and api_key.strip() else api_key

    def from_settings() -> Any:
        return AsyncClient(api_key=key, base_url=base_url)

    return client, from_settings


def validate(specs: Sequence[JobSpec]) -> None:
    """Check every request as the client would, before anything is priced or sent."""
    from aurous_nb.client import ValidationError
    from aurous_nb.work.jobs import validate

    for i, spec in enumerate(specs):
        request = dict(spec.request)
        if spec.refs is not None:  # read and checked already; uploaded just before the create
            del request["reference_images"]
        try:
            for other in ("reference_image_urls", "character_id"):
                if spec.refs is not None and request.get(other) is not None:
                    raise ValidationError(
                        "reference_images",
                        f"reference_images: cannot be used with {other}; pass one",
                    )
            validate(spec.media_type, request)
        except ValidationError as exc:
            cell = f" (cell {spec.cell})" if spec.cell else ""
            raise ValidationError(exc.param or "request", f"job {i}{cell}: {exc.message}") from None


def base_url(base_url: str | None) -> str:
    import os

    from aurous_nb.client._core import DEFAULT_BASE_URL

    return (base_url or os.environ.get("AUROUS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
