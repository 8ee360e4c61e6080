"""aurous_nb: the Aurous Labs image and video API, made for Jupyter.

The top level stays small and cheap to import: names resolve on first use, so
``import aurous_nb`` loads neither pandas, matplotlib, ipywidgets nor the sandbox's server.

The code lives in layers (``client``, ``store``, ``work``, ``notebook``, ``analysis``; see the
README's Design section). The modules people import by their short names (``aurous_nb.widgets``,
``aurous_nb.frames``, ``from aurous_nb import session``) are :data:`PUBLIC`: each short name *is*
its layered module (one object, one home), found by a small import hook instead of a copy.
"""

from __future__ import annotations

import importlib
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
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
    "BudgetExceededError": "aurous_nb.work.caps",
    "LedgerError": "aurous_nb.store.ledger_file",
    "LedgerWarning": "aurous_nb.store.ledger_file",
    "Sandbox": "aurous_nb.sandbox",
    "Batch": "aurous_nb.work.batch",
    "webhooks": "aurous_nb.webhooks",
    "actions": "aurous_nb.notebook.actions",
    "rate": "aurous_nb.store.ratings",
    "inspect": "aurous_nb.store.provenance",
    "load_ipython_extension": "aurous_nb.notebook.magics.extension",
    "unload_ipython_extension": "aurous_nb.notebook.magics.extension",
}

# Short public module names -> their homes. ``import aurous_nb.widgets.panel`` works too.
PUBLIC: dict[str, str] = {
    "batch": "aurous_nb.work.batch",
    "caps": "aurous_nb.work.caps",
    "display": "aurous_nb.notebook.display",
    "frames": "aurous_nb.analysis.frames",
    "jobs": "aurous_nb.work.jobs",
    "ledger": "aurous_nb.store.ledger",
    "outputs": "aurous_nb.store.outputs",
    "reports": "aurous_nb.analysis.reports",
    "reproduce": "aurous_nb.notebook.reproduce",
    "session": "aurous_nb.notebook.session",
    "snapshots": "aurous_nb.store.snapshots",
    "widgets": "aurous_nb.notebook.widgets",
}

__all__ = ["__version__", *_LAZY, *PUBLIC]


def _home(fullname: str) -> str | None:
    """The layered name of ``aurous_nb.<short>[.rest]``, or None when it is not a public alias."""
    short, _, rest = fullname.removeprefix("aurous_nb.").partition(".")
    if not fullname.startswith("aurous_nb.") or short not in PUBLIC:
        return None
    return PUBLIC[short] + ("." + rest if rest else "")


class _PublicNames:
    """Imports ``aurous_nb.<short>`` as the very module at its home (never a second copy).

    A finder and loader by protocol (``importlib.abc`` would cost ``import aurous_nb`` 10 ms).
    """

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if _home(fullname) is None:
            return None
        return ModuleSpec(fullname, self)  # type: ignore[arg-type]

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        home = _home(spec.name)
        assert home is not None
        module = importlib.import_module(home)
        spec.loader_state = module.__spec__  # import overwrites __spec__; exec_module puts it back
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run (the module ran once, under its home's name); keep its own spec."""
        assert module.__spec__ is not None
        module.__spec__ = module.__spec__.loader_state


if not any(isinstance(finder, _PublicNames) for finder in sys.meta_path):
    sys.meta_path.insert(0, _PublicNames())

if TYPE_CHECKING:
    from aurous_nb import webhooks as webhooks
    from aurous_nb.caps import BudgetExceededError as BudgetExceededError
    from aurous_nb.client import *  # noqa: F403
    from aurous_nb.sandbox import Sandbox as Sandbox
    from aurous_nb.store.ledger_file import LedgerError as LedgerError
    from aurous_nb.store.ledger_file import LedgerWarning as LedgerWarning
    from aurous_nb.work.batch import Batch as Batch


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        value = importlib.import_module(PUBLIC[name])
        globals()[name] = value
        return value
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'aurous_nb' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if module_name.endswith("." + name) else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
