"""The durable outputs cache: every successful output, fetched while its signed URL still works.

Files live at ``<home>/outputs/<env>/<generation_id>/<index>.<ext>``. Each is streamed by the
client into a hidden part-file (the client itself writes a temp file and renames it), its type
sniffed from the bytes, hashed, renamed into place, and only then recorded in the ledger with its
size and sha256, so a crash mid-download never leaves a file the ledger counts as done. Transient
failures are retried; an expired output is not (nothing can bring it back). Part-files that a
killed download left (named by :mod:`aurous_nb.client._parts`) are swept at a session's start
and before each download, once over an hour old.
"""

from __future__ import annotations

import hashlib
import os
import threading
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any

from aurous_nb.client._core import Sleep, StepFlow, adrive, drive
from aurous_nb.client._media import sniff
from aurous_nb.client._parts import orphans, part_path
from aurous_nb.client.errors import InvalidResponseError
from aurous_nb.client.models import check_generation_id
from aurous_nb.config import auto_download, env_for
from aurous_nb.statuses import SUCCEEDED
from aurous_nb.store.ledger import JobRecord, Ledger, OutputFile, ledger_or_default

__all__ = [
    "adownload_outputs",
    "cached_outputs",
    "download_outputs",
    "missing_outputs",
    "output_dir",
    "should_download",
    "sniff",
    "sweep",
]

RETRIES = 3
_BACKOFF_S = 0.5
_SWEPT: set[Path] = set()
_SWEPT_LOCK = threading.Lock()


def should_download(download: bool | None) -> bool:
    """An explicit ``download=`` wins; otherwise the auto-download setting decides."""
    return auto_download() if download is None else bool(download)


def output_dir(ledger: Ledger, env: str, generation_id: str) -> Path:
    """``<home>/outputs/<env>/<generation_id>``, refused (InvalidResponseError) for an id that
    is not an API id or a path that would leave the cache: ids come from servers, and a
    ``../`` in one would write, and delete, files elsewhere."""
    root = (ledger.outputs_root / env).resolve()
    path = (root / check_generation_id(generation_id)).resolve()
    if path.parent != root:
        raise InvalidResponseError(
            f"{generation_id}: its cache directory would be outside {root}",
            code="invalid_response",
            param="id",
        )
    return path


def cached_outputs(
    ledger: Ledger | None, generation_id: str, env: str | None = None
) -> list[OutputFile]:
    """The outputs of a generation that are in the cache and intact (by recorded size)."""
    return [f for f in ledger_or_default(ledger).outputs(generation_id, env) if f.is_intact()]


def missing_outputs(ledger: Ledger | None, env: str) -> list[JobRecord]:
    """Succeeded generations of ``env`` whose outputs are not all cached (on a team's ledger:
    the caller's own, not all cached on this host)."""
    ledger = ledger_or_default(ledger)
    mine, who = ledger.mine("me", "g.user_name")
    here = "WHERE host IN (?, '') " if ledger.shared else ""
    _, rows = ledger.query(
        "SELECT g.generation_id FROM generations g "
        "LEFT JOIN (SELECT env, generation_id, count(*) AS n FROM outputs "
        f"           {here}GROUP BY env, generation_id) o "
        "ON o.env = g.env AND o.generation_id = g.generation_id "
        "WHERE g.env = ? AND g.status = ? "
        "AND COALESCE(o.n, 0) < (CASE WHEN g.media_type = 'video' THEN 1 "
        "                        ELSE COALESCE(g.image_count, 1) END)"
        + "".join(f" AND {clause}" for clause in mine),
        ([ledger.host] if ledger.shared else []) + [env, SUCCEEDED, *who],
    )
    found = (ledger.find(row[0], env) for row in rows)
    return [r for r in found if r is not None]


def _target(generation: Any) -> tuple[Any, str, int]:
    """What to hand the client (a Generation model, else the id), the id, and the file count."""
    if isinstance(generation, JobRecord):
        if generation.generation_id is None:
            raise ValueError("this job has no generation id yet")
        return generation.generation_id, generation.generation_id, generation.output_count
    raw = getattr(generation, "raw", None)
    payload = raw if isinstance(raw, dict) else generation
    if isinstance(payload, str):
        return payload, payload, -1
    gen_id = str(payload["id"])
    if payload.get("status") != SUCCEEDED:
        count = 0
    elif payload.get("media_type") == "video" or gen_id.startswith("vid_"):
        count = 1
    else:
        count = int(payload.get("image_count") or len(payload.get("output_urls") or ()) or 1)
    ref = generation if raw is not None else gen_id  # a plain dict: let the client fetch URLs
    return ref, gen_id, count


def _is_final(exc: BaseException) -> bool:
    """Errors a retry cannot fix: the output is gone, never existed, or the call is invalid."""
    from aurous_nb.client import errors

    return isinstance(
        exc,
        (
            errors.OutputExpiredError,
            errors.OutputNotAvailableError,
            errors.NotFoundError,
            errors.ValidationError,
            errors.AuthenticationError,
            errors.PermissionDeniedError,
        ),
    )


def _plan(
    ledger: Ledger, env: str, gen_id: str, count: int, force: bool
) -> tuple[list[OutputFile], list[int]]:
    have = {f.index: f for f in ledger.outputs(gen_id, env)}
    kept: list[OutputFile] = []
    todo: list[int] = []
    for index in range(count):
        existing = have.get(index)
        if existing is not None and existing.is_intact() and not force:
            kept.append(existing)
        else:
            todo.append(index)
    return kept, todo


def _part_path(directory: Path, index: int) -> Path:
    """A fresh hidden part-file name; part-files a crash left behind over an hour ago go."""
    directory.mkdir(parents=True, exist_ok=True)
    _remove(orphans(directory))
    return part_path(directory / str(index))


def sweep(ledger: Ledger) -> int:
    """Remove the part-files killed downloads left anywhere in the cache (once per cache and
    process: a session's start); returns how many went. Young ones may be another kernel's."""
    root = ledger.outputs_root
    with _SWEPT_LOCK:
        if root in _SWEPT:
            return 0
        _SWEPT.add(root)
    removed = 0
    with suppress(OSError):
        for env in os.scandir(root):
            if env.is_dir(follow_symlinks=False):
                for gen in os.scandir(env.path):
                    if gen.is_dir(follow_symlinks=False):
                        removed += _remove(orphans(Path(gen.path)))
    return removed


def _remove(paths: list[Path]) -> int:
    removed = 0
    for path in paths:
        with suppress(OSError):
            path.unlink()
            removed += 1
    return removed


def _finish(ledger: Ledger, env: str, gen_id: str, index: int, part: Path) -> OutputFile:
    """Write the picture's parameters in (:mod:`aurous_nb.store.provenance`), hash the complete
    part-file, rename it into place, then (only then) record it."""
    with part.open("rb") as handle:
        if sniff(handle.read(16))[0] in ("png", "jpg", "jpeg"):
            from aurous_nb.store import provenance

            provenance.mark_file(part, ledger.find(gen_id, env), index)
    digest = hashlib.sha256()
    size = 0
    head = b""
    with part.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            if not head:
                head = chunk[:16]
            digest.update(chunk)
            size += len(chunk)
    if size == 0:
        part.unlink(missing_ok=True)
        raise OSError(f"output {index} of {gen_id} came back empty")
    ext, content_type = sniff(head)
    final = part.with_name(f"{index}.{ext}")
    for stale in part.parent.glob(f"{index}.*"):
        if stale != final:
            stale.unlink(missing_ok=True)
    os.replace(part, final)
    return ledger.record_output(
        env, gen_id, index, final, size=size, sha256=digest.hexdigest(), content_type=content_type
    )


def download_outputs_flow(
    client: Any, ledger: Ledger | None, generation: Any, force: bool, retries: int
) -> StepFlow[list[OutputFile]]:
    """The one download path behind :func:`download_outputs` and :func:`adownload_outputs`."""
    ledger = ledger_or_default(ledger)
    env = env_for(str(client.base_url))
    ref, gen_id, count = _target(generation)
    if count < 0:
        # An id: a success the ledger knows needs no request when its files are all cached
        # (the server may have forgotten it: a restarted sandbox, see aurous_nb.config).
        known = ledger.find(gen_id, env)
        if known is not None and known.status == SUCCEEDED:
            count = known.output_count
        else:
            ref = yield partial(client.images.get, gen_id)
            _, gen_id, count = _target(ref)
    directory = output_dir(ledger, env, gen_id)
    kept, todo = _plan(ledger, env, gen_id, count, force)
    for index in todo:
        for attempt in range(retries + 1):
            part = _part_path(directory, index)
            try:
                yield partial(client.images.download_to, ref, index, part)
                kept.append(_finish(ledger, env, gen_id, index, part))
                break
            except Exception as exc:
                part.unlink(missing_ok=True)
                if _is_final(exc) or attempt == retries:
                    raise
                yield Sleep(_BACKOFF_S * 2**attempt)
    return sorted(kept, key=lambda f: f.index)


def download_outputs(
    client: Any,
    ledger: Ledger | None,
    generation: Any,
    *,
    force: bool = False,
    retries: int = RETRIES,
) -> list[OutputFile]:
    """Make sure every output of a succeeded generation is in the cache; returns them by index.

    ``generation`` is a client ``Generation`` (its fresh signed URLs are used), a JSON dict, a
    :class:`JobRecord` or an id (the client fetches fresh URLs). Already-cached intact files are
    not fetched again unless ``force``.
    """
    return drive(client, download_outputs_flow(client, ledger, generation, force, retries))


async def adownload_outputs(
    client: Any,
    ledger: Ledger | None,
    generation: Any,
    *,
    force: bool = False,
    retries: int = RETRIES,
) -> list[OutputFile]:
    """:func:`download_outputs` for an ``AsyncClient``."""
    return await adrive(client, download_outputs_flow(client, ledger, generation, force, retries))
