"""Image generations: estimate, create, get, list, cancel, wait, download (contract §2.5-2.10),
and ``generate``: create, wait and save in one call.

Videos share the generation surface (polled and cancelled here, downloaded through the same
flow), so the flows below serve ``client.videos`` too.

``generate`` is the client's one-call path (as ``replicate.run`` or ``fal_client.subscribe``):
one Idempotency-Key covers the create and every retry of it, and passing the same
``idempotency_key`` again (after a timeout, a crash) collects the same generation instead of
buying another. The client keeps no ledger: with ``download_dir`` it saves the outputs there and
nothing more. The ledger-aware path (row written before the create is sent, outputs in the
cache, found again after a restart) is :func:`aurous_nb.work.jobs.generate`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from aurous_nb.client._core import Core, Flow, Request, Response, Sleep, new_idempotency_key
from aurous_nb.client._media import sniff
from aurous_nb.client._params import (
    ImageParams,
    check_float,
    check_header_value,
    check_id,
    check_int,
    check_limit,
    image_body,
)
from aurous_nb.client._parts import part_path
from aurous_nb.client._resource import AsyncResource, SyncResource
from aurous_nb.client.backoff import Backoff
from aurous_nb.client.errors import (
    AurousError,
    AuthenticationError,
    GenerationFailedError,
    InvalidResponseError,
    OutputExpiredError,
    OutputNotAvailableError,
    PermissionDeniedError,
    ValidationError,
    WaitTimeoutError,
    json_kind,
)
from aurous_nb.client.models import Estimate, Generation, Page, check_generation_id

if sys.version_info >= (3, 11):
    from typing import Unpack
else:  # pragma: no cover
    from typing_extensions import Unpack

__all__ = ["AsyncImages", "Images"]

GenerationRef = str | Generation


# ---------------------------------------------------------------- flows (shared)


def generation(resp: Response) -> Generation:
    return parse_generation(resp.object(), resp)


def parse_generation(d: Any, resp: Response) -> Generation:
    """A generation from an answer: an object with an API id, or InvalidResponseError."""
    if not isinstance(d, dict):
        raise resp.invalid(f"a generation is {json_kind(d)}, not a JSON object")
    check_generation_id(d.get("id"))
    return Generation.from_json(
        d,
        request_id=resp.request_id,
        replayed=resp.headers.get("aurous-idempotent-replayed", "").lower() == "true",
    )


def _id(ref: GenerationRef) -> str:
    return ref.id if isinstance(ref, Generation) else check_id("id", ref)


def _path(gen_id: str, suffix: str = "") -> str:
    return f"/v1/images/{quote(gen_id, safe='')}{suffix}"


def idempotency_key(key: str | None) -> str:
    if key is None:
        return new_idempotency_key()
    return check_header_value("idempotency_key", key)


def post_estimate_flow(
    core: Core, path: str, body: dict[str, Any], version: str | None
) -> Flow[Estimate]:
    """Price a create body (images and videos): no row, no hold, so it may be retried."""
    req = core.send_json(
        "POST", path, body, bucket="estimate_post", idempotent=True, version=version
    )
    return Estimate.from_json((yield from core.call_json(req)))


def post_create_flow(
    core: Core, path: str, body: dict[str, Any], key: str | None, version: str | None
) -> Flow[Generation]:
    """Start a generation (images and videos) under its Idempotency-Key (made when not given)."""
    req = core.send_json(
        "POST",
        path,
        body,
        bucket="images_post",
        idempotency_key=idempotency_key(key),
        version=version,
    )
    return generation((yield from core.call(req)))


def body_flow(
    core: Core, prompt: str, params: ImageParams, version: str | None
) -> Flow[dict[str, Any]]:
    """The request body; ``reference_images`` (anything, see ``client.references``) become
    ``reference_image_urls``, uploading local data once, after every other field is checked."""
    refs = params.get("reference_images")
    if refs is None:
        return image_body(prompt, params)
    from aurous_nb.client.references import MAX_REFERENCES, resolve_many_flow

    rest: dict[str, Any] = {k: v for k, v in params.items() if k != "reference_images"}
    for other in ("reference_image_urls", "character_id"):
        if rest.get(other) is not None:
            raise ValidationError(
                "reference_images", f"reference_images: cannot be used with {other}; pass one"
            )
    image_body(prompt, rest)  # nothing is uploaded for a request that would be refused
    if isinstance(refs, (list, tuple)) and len(refs) > MAX_REFERENCES:
        raise ValidationError(
            "reference_images",
            f"reference_images: at most {MAX_REFERENCES} references (got {len(refs)})",
        )
    rest["reference_image_urls"] = yield from resolve_many_flow(
        core, refs, "reference", "reference_images", version
    )
    return image_body(prompt, rest)


def estimate_flow(
    core: Core, prompt: str, params: ImageParams, version: str | None
) -> Flow[Estimate]:
    body = yield from body_flow(core, prompt, params, version)
    return (yield from post_estimate_flow(core, "/v1/images/estimate", body, version))


def create_flow(
    core: Core, prompt: str, params: ImageParams, key: str | None, version: str | None
) -> Flow[Generation]:
    body = yield from body_flow(core, prompt, params, version)
    return (yield from post_create_flow(core, "/v1/images", body, key, version))


def get_flow(core: Core, ref: GenerationRef, version: str | None) -> Flow[Generation]:
    return generation((yield from core.call(core.get(_path(_id(ref)), version=version))))


def cancel_flow(core: Core, ref: GenerationRef, version: str | None) -> Flow[Generation]:
    # Cancel is idempotent by contract (a cancelled row stays cancelled), so it may be retried.
    req = core.send_json(
        "POST",
        _path(_id(ref), "/cancel"),
        bucket="images_post",
        idempotent=True,
        version=version,
    )
    return generation((yield from core.call(req)))


def list_page_flow(
    core: Core,
    limit: int,
    starting_after: str | None,
    ending_before: str | None,
    version: str | None,
) -> Flow[Page[Generation]]:
    params: dict[str, Any] = {"limit": check_limit(limit)}
    if starting_after is not None and ending_before is not None:
        raise ValidationError("ending_before", "ending_before: cannot be used with starting_after")
    if starting_after is not None:
        params["starting_after"] = check_id("starting_after", starting_after)
    if ending_before is not None:
        params["ending_before"] = check_id("ending_before", ending_before)
    resp = yield from core.call(core.get("/v1/images", params=params, version=version))
    body = resp.object()
    items = body.get("data") or []
    if not isinstance(items, list):
        raise resp.invalid(f"data is {json_kind(items)}, not a list", "data")
    cursor = body.get("next_cursor")
    return Page(
        data=tuple(parse_generation(r, resp) for r in items),
        has_more=bool(body.get("has_more")),
        next_cursor=cursor if isinstance(cursor, str) else None,
        raw=body,
    )


def check_wait(timeout: float, poll_interval: float) -> None:
    """A wait's limits: a NaN deadline never passes and a NaN or infinite interval never polls."""
    check_float("timeout", timeout, 0)
    check_float("poll_interval", poll_interval, 0, above=True)


def wait_flow(
    core: Core,
    ref: GenerationRef,
    timeout: float,
    poll_interval: float,
    cancel_on_timeout: bool,
    version: str | None,
) -> Flow[Generation]:
    """Poll until terminal, on :meth:`Backoff.for_client`'s schedule."""
    check_wait(timeout, poll_interval)
    if isinstance(ref, Generation) and ref.is_terminal:
        return ref
    gen_id = _id(ref)
    deadline = core.monotonic() + timeout
    gaps = Backoff.for_client(poll_interval)
    while True:
        gen = yield from get_flow(core, gen_id, version)
        if gen.is_terminal:
            return gen
        left = deadline - core.monotonic()
        if left <= 0:
            break
        yield Sleep(min(gaps.next(), left))
    note = ""
    if cancel_on_timeout:
        try:
            gen = yield from cancel_flow(core, gen_id, version)
            note = "; it was cancelled (the hold is released)"
        except AurousError:
            gen = yield from get_flow(core, gen_id, version)
            if gen.is_terminal:  # it finished while we were giving up
                return gen
    raise WaitTimeoutError(
        f"{gen_id} was still {gen.status} after {timeout:g}s{note}", generation=gen
    )


def _output_url(gen: Generation, index: int) -> str:
    if not gen.is_terminal:
        raise OutputNotAvailableError(
            f"{gen.id} is {gen.status}; wait() for it before downloading",
            code="output_not_ready",
        )
    if not gen.succeeded:
        raise OutputNotAvailableError(
            f"{gen.id} ended {gen.status}; it has no output", code="output_not_available"
        )
    if gen.is_video and gen.output_video_url:
        return checked_url(gen.id, gen.output_video_url)
    check_int("index", index, 0)
    if index >= len(gen.output_urls):
        if not gen.output_urls:
            raise OutputExpiredError(
                f"{gen.id} has no output URLs any more: its output has expired",
                code="output_expired",
            )
        raise ValidationError(
            "index", f"index: {gen.id} has {len(gen.output_urls)} output(s), got {index}"
        )
    return checked_url(gen.id, gen.output_urls[index])


def checked_url(gen_id: str, url: str) -> str:
    """An output URL the client may fetch: http(s) with a host, else InvalidResponseError."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        usable = False
    if not usable:
        raise InvalidResponseError(
            f"{gen_id}: its output URL is not an http(s) URL, so it is not fetched",
            code="invalid_response",
            param="output_urls",
        )
    return url


def download_flow(
    core: Core, ref: GenerationRef, index: int, dest: str | None, version: str | None
) -> Flow[Response]:
    """Fetch one output with its signed URL (no API key); refresh the URL once if stale."""
    check_int("index", index, 0)
    gen = ref if isinstance(ref, Generation) else (yield from get_flow(core, ref, version))
    refreshed = False
    while True:
        url = _output_url(gen, index)
        req = Request("GET", url, auth=False, idempotent=True, stream_to=dest, output=True)
        try:
            return (yield from core.call(req))
        except (OutputExpiredError, AuthenticationError, PermissionDeniedError) as exc:
            if refreshed:
                raise _expired(gen.id, exc) from None
            refreshed = True
            gen = yield from get_flow(core, gen.id, version)
            if not (gen.output_urls or gen.output_video_url):
                raise _expired(gen.id, exc) from None


def _expired(gen_id: str, exc: AurousError) -> OutputExpiredError:
    return OutputExpiredError(
        f"the output of {gen_id} has expired and is no longer kept by the API "
        "(outputs live about 24 h after completion); download outputs soon after they finish",
        status=exc.status,
        type=exc.type,
        code="output_expired",
        request_id=exc.request_id,
        doc_url=exc.doc_url,
    )


def download_bytes_flow(
    core: Core, ref: GenerationRef, index: int, version: str | None
) -> Flow[bytes]:
    return (yield from download_flow(core, ref, index, None, version)).content


def download_to_flow(
    core: Core, ref: GenerationRef, index: int, path: str | os.PathLike[str], version: str | None
) -> Flow[Path]:
    target = Path(path)
    yield from download_flow(core, ref, index, str(target), version)
    return target


def save_flow(
    core: Core, gen: Generation, directory: str | os.PathLike[str], version: str | None
) -> Flow[tuple[Path, ...]]:
    """Every output of a succeeded generation into ``directory`` as ``<id>-<n>.<ext>``."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    count = 1 if gen.is_video else len(gen.output_urls) or int(gen.image_count or 1)
    saved = []
    for index in range(count):
        part = part_path(folder / f"{gen.id}-{index}")
        yield from download_to_flow(core, gen, index, part, version)
        with part.open("rb") as handle:
            ext, _ = sniff(handle.read(16))
        final = part.with_name(f"{gen.id}-{index}.{ext}")
        os.replace(part, final)
        saved.append(final)
    return tuple(saved)


def generate_flow(
    core: Core,
    create: Flow[Generation],
    timeout: float,
    poll_interval: float,
    download_dir: str | os.PathLike[str] | None,
    version: str | None,
) -> Flow[Generation]:
    """Create (the flow given), wait until terminal, save the outputs when asked; a generation
    that ends without output raises :class:`GenerationFailedError` carrying it."""
    check_wait(timeout, poll_interval)  # before anything is bought
    gen = yield from create
    gen = yield from wait_flow(core, gen, timeout, poll_interval, False, version)
    if not gen.succeeded:
        raise GenerationFailedError(gen)
    if download_dir is not None:
        files = yield from save_flow(core, gen, download_dir, version)
        gen = dataclasses.replace(gen, files=files)
    return gen


# ---------------------------------------------------------------- namespaces


class Images(SyncResource):
    """``client.images``: image generations, and the status surface shared with videos."""

    __slots__ = ()

    def estimate(
        self, prompt: str, *, version: str | None = None, **params: Unpack[ImageParams]
    ) -> Estimate:
        """Price a request without running it (no row, no hold)."""
        return self._run(estimate_flow(self._core, prompt, params, version))

    def create(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[ImageParams],
    ) -> Generation:
        """Start a generation. The Idempotency-Key (generated when not given) is reused on
        every retry, so a lost response never buys a second generation."""
        return self._run(create_flow(self._core, prompt, params, idempotency_key, version))

    def generate(
        self,
        prompt: str,
        *,
        download_dir: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[ImageParams],
    ) -> Generation:
        """Create, wait and (with ``download_dir``) save the outputs; returns the succeeded
        generation (``.files`` lists the saved paths). Raises GenerationFailedError when it
        ends without output, WaitTimeoutError after ``timeout`` s. The same
        ``idempotency_key`` again collects the same generation instead of buying another."""
        create = create_flow(self._core, prompt, params, idempotency_key, version)
        return self._run(
            generate_flow(self._core, create, timeout, poll_interval, download_dir, version)
        )

    def get(self, id: GenerationRef, *, version: str | None = None) -> Generation:
        return self._run(get_flow(self._core, id, version))

    def cancel(self, id: GenerationRef, *, version: str | None = None) -> Generation:
        return self._run(cancel_flow(self._core, id, version))

    def list_page(
        self,
        limit: int = 100,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        version: str | None = None,
    ) -> Page[Generation]:
        """One page of history, newest first."""
        return self._run(list_page_flow(self._core, limit, starting_after, ending_before, version))

    def list(
        self, *, limit: int = 100, starting_after: str | None = None, version: str | None = None
    ) -> Iterator[Generation]:
        """Every generation, newest first, fetching pages of ``limit`` rows as it goes."""
        core = self._core
        return self._client._iterate(
            lambda cursor: list_page_flow(
                core, limit, cursor if cursor is not None else starting_after, None, version
            )
        )

    def wait(
        self,
        id_or_generation: GenerationRef,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
        cancel_on_timeout: bool = False,
        version: str | None = None,
    ) -> Generation:
        """Poll until terminal and return the row (check ``.status``); raise
        WaitTimeoutError after ``timeout`` s, cancelling the job first if asked."""
        return self._run(
            wait_flow(
                self._core, id_or_generation, timeout, poll_interval, cancel_on_timeout, version
            )
        )

    def download(
        self, generation: GenerationRef, index: int = 0, *, version: str | None = None
    ) -> bytes:
        return self._run(download_bytes_flow(self._core, generation, index, version))

    def download_to(
        self,
        generation: GenerationRef,
        index: int,
        path: str | os.PathLike[str],
        *,
        version: str | None = None,
    ) -> Path:
        """Stream an output into ``path`` (temp file + rename: never a partial file there)."""
        return self._run(download_to_flow(self._core, generation, index, path, version))


class AsyncImages(AsyncResource):
    """``client.images`` on :class:`AsyncClient` (same methods, awaited)."""

    __slots__ = ()

    async def estimate(
        self, prompt: str, *, version: str | None = None, **params: Unpack[ImageParams]
    ) -> Estimate:
        return await self._run(estimate_flow(self._core, prompt, params, version))

    async def create(
        self,
        prompt: str,
        *,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[ImageParams],
    ) -> Generation:
        return await self._run(create_flow(self._core, prompt, params, idempotency_key, version))

    async def generate(
        self,
        prompt: str,
        *,
        download_dir: str | os.PathLike[str] | None = None,
        timeout: float = 600.0,
        poll_interval: float = 1.0,
        idempotency_key: str | None = None,
        version: str | None = None,
        **params: Unpack[ImageParams],
    ) -> Generation:
        """:meth:`Images.generate`, awaited."""
        create = create_flow(self._core, prompt, params, idempotency_key, version)
        return await self._run(
            generate_flow(self._core, create, timeout, poll_interval, download_dir, version)
        )

    async def get(self, id: GenerationRef, *, version: str | None = None) -> Generation:
        return await self._run(get_flow(self._core, id, version))

    async def cancel(self, id: GenerationRef, *, version: str | None = None) -> Generation:
        return await self._run(cancel_flow(self._core, id, version))

    async def list_page(
        self,
        limit: int = 100,
        starting_after: str | None = None,
        ending_before: str | None = None,
        *,
        version: str | None = None,
    ) -> Page[Generation]:
        return await self._run(
            list_page_flow(self._core, limit, starting_after, ending_before, version)
        )

    def list(
        self, *, limit: int = 100, starting_after: str | None = None, version: str | None = None
    ) -> AsyncIterator[Generation]:
        core = self._core
        return self._client._iterate(
            lambda cursor: list_page_flow(
                core, limit, cursor if cursor is not None else starting_after, None, version
            )
        )

    async def wait(
        self,
        id_or_generation: GenerationRef,
        *,
        timeout: float = 600.0,
        poll_interval: float = 2.0,
        cancel_on_timeout: bool = False,
        version: str | None = None,
    ) -> Generation:
        return await self._run(
            wait_flow(
                self._core, id_or_generation, timeout, poll_interval, cancel_on_timeout, version
            )
        )

    async def download(
        self, generation: GenerationRef, index: int = 0, *, version: str | None = None
    ) -> bytes:
        return await self._run(download_bytes_flow(self._core, generation, index, version))

    async def download_to(
        self,
        generation: GenerationRef,
        index: int,
        path: str | os.PathLike[str],
        *,
        version: str | None = None,
    ) -> Path:
        return await self._run(download_to_flow(self._core, generation, index, path, version))
