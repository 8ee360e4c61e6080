"""Verify Aurous webhook deliveries: ``aurous_nb.webhooks.verify(body, header, secret)``.

A public alias of :mod:`aurous_nb.client.webhooks`.
"""

from aurous_nb.client.models import Event
from aurous_nb.client.webhooks import (
    SIGNATURE_HEADER,
    InvalidSignatureError,
    MalformedSignatureHeaderError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
    compute_signature,
    sign,
    verify,
)

__all__ = [
    "SIGNATURE_HEADER",
    "Event",
    "InvalidSignatureError",
    "MalformedSignatureHeaderError",
    "TimestampOutOfToleranceError",
    "WebhookVerificationError",
    "compute_signature",
    "sign",
    "verify",
]
