"""The Aurous v1 image and video API client: :class:`Client` (blocking) and :class:`AsyncClient`.

    with Client() as client:                      # AUROUS_API_KEY, AUROUS_BASE_URL, AUROUS_VERSION
        gen = client.images.create("a red fox", count=2, size="2k_3_2")
        gen = client.images.wait(gen)             # polls, 2 s growing to 10 s
        png = client.images.download(gen, 1)      # signed URL, no key sent
        gen = client.images.generate("a red fox", download_dir="out")  # all three in one call

How it is built: every operation is written once, as a *flow* -- a generator that yields
``Request`` / ``Sleep`` steps and returns a typed model (``_core.Core.call`` holds every retry,
idempotency and pacing decision; the resource modules hold paths, bodies and parsing). The
blocking and asyncio clients differ only in their ``_run`` driver loop (``_sync.py`` /
``_async.py``); their resource methods are one-liners handing a flow to that loop.

Lists: ``images.list()`` is a lazy iterator over every page (async iterator on AsyncClient);
``loras.list()``, ``webhook_endpoints.list()`` and ``usage()`` return complete lists.
"""

from aurous_nb.client._async import AsyncClient
from aurous_nb.client._core import RateLimit, RetryPolicy
from aurous_nb.client._params import ImageParams, VideoParams
from aurous_nb.client._sync import Client
from aurous_nb.client.errors import (
    APIConnectionError,
    APITimeoutError,
    AurousError,
    AuthenticationError,
    GenerationFailedError,
    IdempotencyConflictError,
    InsecureURLWarning,
    InsufficientBalanceError,
    InvalidRequestError,
    InvalidResponseError,
    NotFoundError,
    OutputExpiredError,
    OutputNotAvailableError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from aurous_nb.client.models import (
    Balance,
    Character,
    CharacterRef,
    Deleted,
    Estimate,
    Event,
    File,
    Generation,
    Lora,
    Page,
    Pricing,
    Team,
    UsageBucket,
    VideoLora,
    WebhookEndpoint,
    WebhookTestFire,
)

__all__ = [
    "APIConnectionError",
    "APITimeoutError",
    "AsyncClient",
    "AurousError",
    "AuthenticationError",
    "Balance",
    "Character",
    "CharacterRef",
    "Client",
    "Deleted",
    "Estimate",
    "Event",
    "File",
    "Generation",
    "GenerationFailedError",
    "IdempotencyConflictError",
    "ImageParams",
    "InsecureURLWarning",
    "InsufficientBalanceError",
    "InvalidRequestError",
    "InvalidResponseError",
    "Lora",
    "NotFoundError",
    "OutputExpiredError",
    "OutputNotAvailableError",
    "Page",
    "PermissionDeniedError",
    "Pricing",
    "RateLimit",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "Team",
    "UsageBucket",
    "ValidationError",
    "VideoLora",
    "VideoParams",
    "WaitTimeoutError",
    "WebhookEndpoint",
    "WebhookTestFire",
]
