"""The sandbox's routes: a faithful local stand-in for the hosted Aurous v1 API.

``create_app(config)`` builds a Starlette app. Cross-cutting work (request ids, version pinning,
auth, rate limits, chaos) happens in :mod:`aurous_nb.sandbox.gate`; state lives in
:mod:`aurous_nb.sandbox.state`. This module holds the account, LoRA, generation, legacy and
``/_sandbox`` routes; files and webhook endpoints have their own route modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aurous_nb.sandbox import bodies, catalog, validation
from aurous_nb.sandbox.chaos import Chaos
from aurous_nb.sandbox.character_routes import CharacterRoutes
from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.sandbox.endpoint_routes import EndpointRoutes
from aurous_nb.sandbox.errors import ApiError, bad_request, not_found
from aurous_nb.sandbox.file_routes import FileRoutes
from aurous_nb.sandbox.gate import Gate
from aurous_nb.sandbox.generations import Generation
from aurous_nb.sandbox.idempotency import key_from_headers
from aurous_nb.sandbox.outputs import expired
from aurous_nb.sandbox.pricing import CARDS, Cost, image_cost, video_cost
from aurous_nb.sandbox.responses import base_url as request_base_url
from aurous_nb.sandbox.responses import (
    int_param,
    json_response,
    ranged,
    request_id,
    run_idempotent,
    version,
)
from aurous_nb.sandbox.state import SandboxState
from aurous_nb.sandbox.usage import usage
from aurous_nb.sandbox.validation import ImageRequest, VideoRequest

log = logging.getLogger("aurous_nb.sandbox")

SUNSET = "Tue, 04 Aug 2026 00:00:00 GMT"
DELAY_HEADER = "x-sandbox-delay"
MAX_DELAY_S = 30.0


class Api:
    """The routes, bound to one sandbox's state."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(config)
        self.chaos = Chaos(config.chaos, config.chaos_delay, config.seed)
        self.state.on_terminal.append(self._announce)
        self.state.on_balance_low.append(self._announce_balance_low)
        self._ticker: asyncio.Task[None] | None = None
        self._previews: dict[str, bytes] = {}

    # -- helpers ----------------------------------------------------------------------------

    def base_url(self, request: Request) -> str:
        return request_base_url(request, self.config)

    def gen_json(self, gen: Generation, base_url: str | None = None) -> dict[str, Any]:
        return gen.to_json(
            self.state.signer, base_url or gen.base_url, time.time(), self.config.output_ttl
        )

    def _find_gen(self, request: Request) -> Generation:
        gen = self.state.find(request.path_params["id"])
        if gen is None:
            raise not_found("Generation", "id")
        return gen

    def _announce(self, gen: Generation) -> None:
        """Webhooks for a generation that just ended (called from ``settle`` and cancel)."""
        outcome = {"succeeded": "completed", "cancelled": "cancelled"}.get(gen.status, "failed")
        event_type = f"{gen.media_type}.{outcome}"
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        data = self.gen_json(gen)
        self.state.webhooks.emit(event_type, data)
        if gen.request.webhook_url and outcome != "cancelled":
            self.state.webhooks.callback(gen.request.webhook_url, event_type, data)

    def _announce_balance_low(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        data = self.state.team.balance_json()
        data["balance_low_threshold"] = self.state.team.to_json()["balance_low_threshold"]
        self.state.webhooks.emit("usage.balance_low", data)

    def start_ticker(self) -> None:
        """Start the task that settles generations on time (so webhooks fire unprompted)."""
        if self._ticker is not None and not self._ticker.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._ticker = loop.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            now = time.time()
            try:
                self.state.settle(now)
            except Exception:  # keep ticking: one bad hook must not stop every webhook
                log.exception("settling generations failed")
            due = [
                g.processing_at if g.status == "pending" else g.done_at
                for g in self.state.active.values()
            ]
            wait = min([0.25, *(t - now for t in due)])
            await asyncio.sleep(max(0.005, wait))

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.start_ticker()
        try:
            yield
        finally:
            if self._ticker is not None:
                self._ticker.cancel()
            await self.state.webhooks.aclose()

    # -- account ----------------------------------------------------------------------------

    async def balance(self, request: Request) -> Response:
        self.state.settle()
        return json_response(self.state.team.balance_json())

    async def team(self, request: Request) -> Response:
        self.state.settle()
        return json_response(self.state.team.to_json())

    async def pricing(self, request: Request) -> Response:
        return json_response(CARDS[version(request)].to_json())

    async def usage(self, request: Request) -> Response:
        return json_response(usage(self.state, request.query_params))

    # -- loras ------------------------------------------------------------------------------

    async def loras(self, request: Request) -> Response:
        base = self.base_url(request)
        return json_response([lora.to_json(base) for lora in catalog.IMAGE_LORAS])

    async def lora(self, request: Request) -> Response:
        lora = catalog.find_image_lora(request.path_params["id"])
        if lora is None:
            raise not_found("LoRA", "id")
        return json_response(lora.to_json(self.base_url(request)))

    async def video_loras(self, request: Request) -> Response:
        base = self.base_url(request)
        return json_response([lora.to_json(base) for lora in catalog.VIDEO_LORAS])

    async def video_lora(self, request: Request) -> Response:
        lora = catalog.find_video_lora(request.path_params["id"])
        if lora is None:
            raise not_found("Video LoRA", "id")
        return json_response(lora.to_json(self.base_url(request)))

    # -- generations ------------------------------------------------------------------------

    def _image_cost(self, req: ImageRequest, version: str) -> Cost:
        return image_cost(
            CARDS[version],
            count=req.count,
            enhance=req.enhance_prompt,
            references=len(req.reference_image_urls),
        )

    def _video_cost(self, req: VideoRequest, version: str) -> Cost:
        return video_cost(
            CARDS[version],
            resolution=req.resolution,
            duration=req.duration,
            enhance=req.enhance_prompt,
        )

    async def estimate_image(self, request: Request) -> Response:
        body = await bodies.json_object(request)
        req = validation.image_request(body, self.state.file_exists, self.state.character_status)
        validation.screen(req, self.config.blocked_word)
        return json_response(self._image_cost(req, version(request)).estimate_json())

    async def estimate_video(self, request: Request) -> Response:
        body = await bodies.json_object(request)
        req = validation.video_request(body, self.state.file_exists)
        validation.screen(req, self.config.blocked_word)
        return json_response(self._video_cost(req, version(request)).estimate_json())

    async def create_image(self, request: Request) -> Response:
        return await self._create(request, "image")

    async def create_video(self, request: Request) -> Response:
        return await self._create(request, "video")

    async def _create(self, request: Request, kind: str) -> Response:
        key = key_from_headers(request.headers)
        body = await bodies.json_object(request)

        async def work() -> Response:
            pinned = version(request)
            req: ImageRequest | VideoRequest
            if kind == "image":
                req = validation.image_request(
                    body, self.state.file_exists, self.state.character_status
                )
                cost = self._image_cost(req, pinned)
            else:
                req = validation.video_request(body, self.state.file_exists)
                cost = self._video_cost(req, pinned)
            validation.screen(req, self.config.blocked_word)
            self.state.check_can_start(cost)
            if self.state.provider_timed_out():
                raise ApiError(
                    504,
                    "provider_timeout",
                    "The provider did not answer in time; no generation was created.",
                    type="server_error",
                )
            base = self.base_url(request)
            gen = self.state.create(
                req,
                cost,
                version=pinned,
                request_id=request_id(request),
                idempotency_key=key,
                base_url=base,
            )
            return json_response(self.gen_json(gen, base), 201)

        return await run_idempotent(
            self.state.idempotency, request, key, f"POST {request.url.path}", body, work
        )

    async def list_generations(self, request: Request) -> Response:
        self.state.settle()
        params = request.query_params
        limit = int_param(params.get("limit"), "limit", 20, 1, 100)
        after, before = params.get("starting_after"), params.get("ending_before")
        if after and before:
            raise bad_request(
                "parameter_invalid_combination",
                "Send either 'starting_after' or 'ending_before', not both.",
                "ending_before",
            )
        newest_first = self.state.order[::-1]
        if after or before:
            cursor = after or before
            gen = self.state.generations.get(cursor or "")
            if gen is None:
                raise not_found("Cursor generation", "starting_after" if after else "ending_before")
            pos = len(self.state.order) - 1 - gen.seq
            if after:
                window = newest_first[pos + 1 :]
                rows, has_more = window[:limit], len(window) > limit
            else:
                window = newest_first[:pos]
                rows, has_more = window[-limit:], len(window) > limit
        else:
            rows, has_more = newest_first[:limit], len(newest_first) > limit
        base = self.base_url(request)
        return json_response(
            {
                "object": "list",
                "data": [self.gen_json(g, base) for g in rows],
                "has_more": has_more,
                "next_cursor": rows[-1].id if has_more and rows else None,
            }
        )

    async def get_generation(self, request: Request) -> Response:
        return json_response(self.gen_json(self._find_gen(request), self.base_url(request)))

    async def cancel(self, request: Request) -> Response:
        gen = self._find_gen(request)
        if not self.state.cancel(gen):
            raise bad_request(
                "generation_not_cancellable",
                f"The generation already ended with status '{gen.status}'.",
                "id",
            )
        return json_response(self.gen_json(gen, self.base_url(request)))

    def _output_gate(self, request: Request, gen: Generation, kind: str, index: str) -> None:
        """Key or signed token, then: 410 after the output's lifetime, 422 when there is none."""
        ttl = self.config.output_ttl
        if not request.scope["state"]["authenticated"]:
            token = request.query_params.get("token", "")
            exp = self.state.signer.check(token, kind, gen.id, index)
            if expired(exp):
                raise _output_expired()
        if gen.status != "succeeded":
            state = "has not finished yet" if not gen.terminal else f"ended as '{gen.status}'"
            raise ApiError(
                422,
                "output_not_available",
                f"The generation {state}; it has no output.",
                param="id",
            )
        expiry = gen.output_expiry(ttl)
        if expiry is not None and expired(expiry):
            raise _output_expired()

    async def image_output(self, request: Request) -> Response:
        gen = self._find_gen(request)
        index_text = request.path_params["n"]
        self._output_gate(request, gen, "image", index_text)
        req = gen.request
        if not isinstance(req, ImageRequest):
            raise not_found("Image output (this is a video; use /v1/videos/{id}/output)", "n")
        try:
            n = int(index_text)
        except ValueError:
            raise not_found("Output", "n") from None
        if not 0 <= n < req.count:
            raise not_found("Output", "n")
        data = gen.outputs.get(n)
        if data is None:
            from aurous_nb.sandbox.render import render_image

            data = await run_in_threadpool(
                lambda: render_image(
                    req.prompt,
                    seed=gen.seed,
                    style=req.style,
                    width=req.width,
                    height=req.height,
                    index=n,
                    figure=gen.figure,
                )
            )
            gen.outputs[n] = data
        return Response(
            data, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"}
        )

    async def video_output(self, request: Request) -> Response:
        gen = self._find_gen(request)
        self._output_gate(request, gen, "video", "video")
        req = gen.request
        if not isinstance(req, VideoRequest):
            raise not_found("Video output (this is an image generation)", "id")
        data = gen.outputs.get(0)
        if data is None:
            from aurous_nb.sandbox.video import VideoEncoderMissing, render_video, video_size

            width, height = video_size(req.resolution, req.ratio)
            try:
                data = await run_in_threadpool(
                    lambda: render_video(
                        req.prompt or "",
                        seed=gen.seed,
                        style=req.lora.slug,
                        width=width,
                        height=height,
                        duration=req.duration,
                    )
                )
            except VideoEncoderMissing as exc:
                raise ApiError(500, "internal_error", str(exc)) from None
            gen.outputs[0] = data
        return ranged(data, "video/mp4", request.headers.get("range"))

    # -- legacy and sandbox-only routes ----------------------------------------------------

    async def legacy_redirect(self, request: Request) -> Response:
        # The path as sent (still percent-encoded): a header value must stay ASCII.
        raw = request.scope.get("raw_path")
        path = raw.decode("latin-1") if raw else quote(request.url.path, safe="/")
        path = path.split("?", 1)[0]
        if path.startswith("/v1/video-generations"):
            target = "/v1/videos" + path[len("/v1/video-generations") :]
        else:
            target = "/v1/images" + path[len("/v1/generations") :]
        query = request.url.query
        location = self.base_url(request) + target + (f"?{query}" if query else "")
        return Response(
            status_code=308,
            headers={"Location": location, "Aurous-Deprecated": "route", "Sunset": SUNSET},
        )

    async def docs_redirect(self, request: Request) -> Response:
        return Response(
            status_code=308,
            headers={
                "Location": "https://docs.aurous-labs.com/",
                "Aurous-Deprecated": "docs",
                "Sunset": SUNSET,
            },
        )

    async def api_spec(self, request: Request) -> Response:
        """The sandbox's OpenAPI description, at the hosted API's URL (no key, no chaos)."""
        from aurous_nb.sandbox.openapi import spec

        return json_response(spec())

    async def ledger(self, request: Request) -> Response:
        data = self.state.ledger_json()
        data["chaos"] = self.chaos.to_json()
        return json_response(data)

    async def webhook_log(self, request: Request) -> Response:
        return json_response(
            {
                "object": "list",
                "data": [a.to_json() for a in self.state.webhooks.attempts],
                "endpoints": [e.to_json() for e in self.state.webhooks.endpoints.values()],
            }
        )

    async def stats(self, request: Request) -> Response:
        buckets = {name: vars(b.draw(take=False)) for name, b in self.state.limiter.buckets.items()}
        return json_response({"chaos": self.chaos.to_json(), "buckets": buckets})

    async def preview(self, request: Request) -> Response:
        name: str = request.path_params["name"]
        slug, _, ext = name.rpartition(".")
        cached = self._previews.get(name)
        if cached is None:
            if ext == "png" and catalog.find_image_lora(slug):
                from aurous_nb.sandbox.render import render_preview

                cached = await run_in_threadpool(render_preview, slug)
            elif ext == "mp4" and catalog.find_video_lora(slug):
                from aurous_nb.sandbox.video import VideoEncoderMissing, render_video_preview

                try:
                    cached = await run_in_threadpool(render_video_preview, slug)
                except VideoEncoderMissing as exc:
                    raise ApiError(500, "internal_error", str(exc)) from None
            else:
                raise not_found("Preview", "name")
            self._previews[name] = cached
        media = "image/png" if ext == "png" else "video/mp4"
        return ranged(cached, media, request.headers.get("range"))

    # -- wiring -----------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        legacy = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return [
            Route("/v1/balance", self.balance, methods=["GET"]),
            Route("/v1/team", self.team, methods=["GET"]),
            Route("/v1/pricing", self.pricing, methods=["GET"]),
            Route("/v1/usage", self.usage, methods=["GET"]),
            Route("/v1/loras", self.loras, methods=["GET"]),
            Route("/v1/loras/{id}", self.lora, methods=["GET"]),
            Route("/v1/video_loras", self.video_loras, methods=["GET"]),
            Route("/v1/video_loras/{id}", self.video_lora, methods=["GET"]),
            Route("/v1/images", self.create_image, methods=["POST"]),
            Route("/v1/images", self.list_generations, methods=["GET"]),
            Route("/v1/images/estimate", self.estimate_image, methods=["POST"]),
            Route("/v1/images/{id}", self.get_generation, methods=["GET"]),
            Route("/v1/images/{id}/cancel", self.cancel, methods=["POST"]),
            Route("/v1/images/{id}/output/{n}", self.image_output, methods=["GET"]),
            Route("/v1/videos", self.create_video, methods=["POST"]),
            Route("/v1/videos/estimate", self.estimate_video, methods=["POST"]),
            Route("/v1/videos/{id}/output", self.video_output, methods=["GET"]),
            Route("/v1/generations", self.legacy_redirect, methods=legacy),
            Route("/v1/generations/{rest:path}", self.legacy_redirect, methods=legacy),
            Route("/v1/video-generations", self.legacy_redirect, methods=legacy),
            Route("/v1/video-generations/{rest:path}", self.legacy_redirect, methods=legacy),
            Route("/docs", self.docs_redirect, methods=["GET"]),
            Route("/api-spec.json", self.api_spec, methods=["GET"]),
            Route("/_sandbox/ledger", self.ledger, methods=["GET"]),
            Route("/_sandbox/webhooks", self.webhook_log, methods=["GET"]),
            Route("/_sandbox/stats", self.stats, methods=["GET"]),
            Route("/_sandbox/previews/{name}", self.preview, methods=["GET"]),
            *FileRoutes(self.state, self.config).routes(),
            *EndpointRoutes(self.state, self.config).routes(),
            *CharacterRoutes(self.state, self.config).routes(),
        ]


# -- small pieces shared by routes ---------------------------------------------------------------


def _output_expired() -> ApiError:
    return ApiError(
        410, "output_expired", "This output has expired and is no longer stored.", param="id"
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return Response(
        exc.body(request_id(request)),
        exc.status,
        headers=exc.headers,
        media_type="application/json",
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    """Router 404/405 (and multipart parse failures) in the error envelope, never HTML."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        err = ApiError(404, "resource_not_found", f"No route for {request.url.path}.")
    elif status == 405:
        err = ApiError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.url.path}.",
            headers=dict(exc.headers or {}),
        )
    else:
        err = ApiError(status, "invalid_format", str(exc.detail))
    return Response(
        err.body(request_id(request)),
        err.status,
        headers=err.headers,
        media_type="application/json",
    )


def create_app(config: SandboxConfig) -> Starlette:
    """The sandbox as an ASGI app; all state lives inside it and dies with it."""
    api = Api(config)
    app = Starlette(
        routes=api.routes(),
        middleware=[Middleware(Gate, state=api.state, chaos=api.chaos, on_first=api.start_ticker)],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=api.lifespan,
    )
    app.state.api = api
    return app
