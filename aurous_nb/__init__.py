"""aurous_nb: the Aurous Labs image and video API, made for Jupyter.

The top level stays small and cheap to import: names resolve on first use, so
``import aurous_nb`` loads neither pandas, matplotlib, ipywidgets nor the sandbox's server.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it; resolved lazily by __getattr__.
_LAZY: dict[str, str] = {
    "Client": "aurous_nb.client",
    "AsyncClient": "aurous_nb.client",
    "AurousError": "aurous_nb.client",
    "AuthenticationError": "aurous_nb.client",
    "GenerationFailedError": "aurous_nb.client",
    "PermissionDeniedError": "aurous_nb.client",
    "InvalidRequestError": "aurous_nb.client",
    "InvalidResponseError": "aurous_nb.client",
    "InsecureURLWarning": "aurous_nb.client",
    "InsufficientBalanceError": "aurous_nb.client",
    "IdempotencyConflictError": "aurous_nb.client",
    "NotFoundError": "aurous_nb.client",
    "OutputExpiredError": "aurous_nb.client",
    "OutputNotAvailableError": "aurous_nb.client",
    "RateLimitError": "aurous_nb.client",
    "ServerError": "aurous_nb.client",
    "APIConnectionError": "aurous_nb.client",
    "APITimeoutError": "aurous_nb.client",
    "ValidationError": "aurous_nb.client",
    "WaitTimeoutError": "aurous_nb.client",
    "LedgerError": "aurous_nb.ledger_file",
    "LedgerWarning": "aurous_nb.ledger_file",
    "Sandbox": "aurous_nb.sandbox",
    "Batch": "aurous_nb.batch",
    "webhooks": "aurous_nb.webhooks",
    "jobs": "aurous_nb.jobs",
    "actions": "aurous_nb.actions",
    "rate": "aurous_nb.ratings",
    "inspect": "aurous_nb.provenance",
    "load_ipython_extension": "aurous_nb.magics",
    "unload_ipython_extension": "aurous_nb.magics",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:
    from aurous_nb import webhooks as webhooks
    from aurous_nb.batch import Batch as Batch
    from aurous_nb.client import *  # noqa: F403
    from aurous_nb.ledger_file import LedgerError as LedgerError
    from aurous_nb.ledger_file import LedgerWarning as LedgerWarning
    from aurous_nb.sandbox import Sandbox as Sandbox


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'aurous_nb' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
