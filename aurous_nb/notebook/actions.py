"""What to do next with a result you like: reuse its seed, open it in the panel, make variations.

Each starts from the request the ledger kept for the generation (so it works after a restart,
and on a file via :func:`aurous_nb.inspect`'s generation id) with the seed the server actually
used. Variations are the same request with the next seeds, run as one :class:`Batch`; their
seeds follow from the original, so asking again collects them instead of buying them twice.
"""

from __future__ import annotations

from typing import Any

from aurous_nb.store.ledger import Ledger, ledger_or_default

__all__ = ["open_in_panel", "reuse_seed", "variations"]

_SEED_SPAN = 2**32


def reuse_seed(generation: Any, *, ledger: Ledger | None = None) -> dict[str, Any]:
    """The generation's request with the seed it was made with (to change one thing and keep
    the rest of the picture)."""
    from aurous_nb.store.ratings import _generation_id

    ledger = ledger_or_default(ledger)
    gen_id = _generation_id(generation)
    record = ledger.find(gen_id)
    if record is None or not record.request:
        raise LookupError(f"{gen_id!r} is not in the ledger (or its request is unknown)")
    request = dict(record.request)
    request.pop("webhook_url", None)
    seed = record.seed if record.seed is not None else request.get("seed")
    if seed is not None:
        request["seed"] = int(seed)
    return request


def variations(generation: Any, n: int = 4, *, ledger: Ledger | None = None, **options: Any) -> Any:
    """A :class:`~aurous_nb.batch.Batch` of ``n`` new takes: the same request, the next ``n``
    seeds. ``options`` go to ``Batch`` (``client=``, ``budget=``); it prices before it buys."""
    from aurous_nb.work.batch import Batch
    from aurous_nb.work.spec import JobSpec

    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 50:
        raise ValueError(f"n: {n!r} is not 1 to 50 variations")
    base = reuse_seed(generation, ledger=ledger)
    seed = int(base.get("seed", 0))
    specs = [JobSpec("image", {**base, "seed": (seed + i) % _SEED_SPAN}) for i in range(1, n + 1)]
    name = f"variations-{getattr(generation, 'generation_id', None) or generation}"
    return Batch(specs, ledger=ledger, name=str(name), **options)


def open_in_panel(generation: Any, *, ledger: Ledger | None = None, **panel: Any) -> Any:
    """A :class:`~aurous_nb.widgets.GenerationPanel` filled with the generation's request and
    seed (and its character, as the panel's chip), ready to change and Generate."""
    from aurous_nb.notebook.widgets import GenerationPanel

    request = reuse_seed(generation, ledger=ledger)
    stack = request.get("loras") or []
    first = stack[0] if stack else None
    lora = request.get("lora_id") or (
        (first.get("lora") if isinstance(first, dict) else first[0]) if first else None
    )
    fields = {
        "prompt": request.get("prompt", ""),
        "negative_prompt": request.get("negative_prompt", ""),
        "lora": lora,
        "size": request.get("size"),
        "count": int(request.get("count") or 1),
        "seed": request.get("seed"),
        "enhance": bool(request.get("enhance_prompt")),
    }
    opened = GenerationPanel(**{**fields, **panel})
    if request.get("character_id"):  # the chip again, so Generate sends the same character
        from aurous_nb.work import characters

        try:
            [character] = characters.ready(
                opened.session.client, [request["character_id"]], param="character_id"
            )
        except Exception as exc:  # deleted or changed since: said in the panel, not sent
            opened._show_error(exc)
        else:
            opened.use_character(character)
    return opened
