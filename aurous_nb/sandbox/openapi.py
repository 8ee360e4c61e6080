"""The sandbox's OpenAPI 3 description of its own routes, served at ``/api-spec.json``.

The hosted API publishes its spec at the same path; the sandbox publishes one too so contract
tools (schemathesis) can be pointed at it. It describes what the sandbox really answers, and a
test keeps it in step with the app's routes (every route here, nothing here that is not a route).
Error answers share one envelope, documented as the ``default`` response of every operation.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from aurous_nb.sandbox import bodies, catalog
from aurous_nb.sandbox.characters import ATTRIBUTES, LISTABLE, POSES
from aurous_nb.sandbox.files import PURPOSES
from aurous_nb.sandbox.validation import (
    SEED_MAX,
    SIZE_PRESETS,
    VIDEO_RATIOS,
    VIDEO_RESOLUTIONS,
)
from aurous_nb.sandbox.webhooks import EVENT_TYPES

Schema = dict[str, Any]

VERSION_HEADER = {
    "name": "Aurous-Version",
    "in": "header",
    "required": False,
    "description": "Pins the API version (YYYY-MM-DD); an unknown one answers 400.",
    "schema": {"type": "string", "example": "2026-05-15"},
}


def _obj(required: dict[str, Schema], optional: dict[str, Schema] | None = None) -> Schema:
    """An object with these required properties (more may appear)."""
    props = {**required, **(optional or {})}
    return {"type": "object", "required": sorted(required), "properties": props}


def _null(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


STR: Schema = {"type": "string"}
NUM: Schema = {"type": "number"}
INT: Schema = {"type": "integer"}
BOOL: Schema = {"type": "boolean"}
ARR: Schema = {"type": "array"}
OBJ: Schema = {"type": "object"}
BINARY: Schema = {"type": "string", "format": "binary"}

ERROR = _obj(
    {
        "error": _obj(
            {
                "type": STR,
                "code": STR,
                "message": STR,
                "param": _null(STR),
                "doc_url": STR,
                "request_id": STR,
            }
        )
    }
)
COST = _obj({"amount": NUM, "currency": STR}, {"breakdown": OBJ})
GENERATION = _obj(
    {
        "object": STR,
        "id": STR,
        "status": {
            "type": "string",
            "enum": [
                "pending",
                "queued",
                "processing",
                "succeeded",
                "failed",
                "cancelled",
                "expired",
                "moderation_rejected",
            ],
        },
        "media_type": {"type": "string", "enum": ["image", "video"]},
        "created_at": STR,
        "completed_at": _null(STR),
        "output_urls": {"type": "array", "items": STR},
        "output_video_url": _null(STR),
        "error_message": _null(STR),
        "cost": _null(COST),
    },
    {"seed": _null(INT), "width": _null(INT), "height": _null(INT), "prompt": _null(STR)},
)


def _list_of(item: Schema) -> Schema:
    return _obj(
        {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": item},
            "has_more": BOOL,
            "next_cursor": _null(STR),
        }
    )


LORA = _obj({"id": STR, "name": STR, "slug": STR, "is_public": BOOL, "created_at": STR})
ESTIMATE = _obj(
    {"object": STR, "estimated_cost": _obj({"amount": NUM}, {"breakdown": OBJ}), "currency": STR}
)
ENDPOINT = _obj(
    {
        "id": STR,
        "object": STR,
        "url": STR,
        "events": {"type": "array", "items": STR},
        "description": _null(STR),
        "metadata": OBJ,
        "secret_preview": STR,
        "secret": _null(STR),
        "is_active": BOOL,
        "created_at": STR,
        "updated_at": STR,
    }
)
DELETED = _obj({"id": STR, "object": STR, "deleted": BOOL})
FILE = _obj({"id": STR, "object": STR, "purpose": STR, "url": STR})
BALANCE = _obj(
    {"object": STR, "credits": NUM, "held_credits": NUM, "available_credits": NUM, "currency": STR}
)
TEAM = _obj({"object": STR, "id": STR, "name": STR, "credits": NUM, "default_api_version": STR})
PRICING = _obj({"object": STR, "version": STR, "currency": STR, "image": OBJ, "video": OBJ})
USAGE = _obj({"object": STR, "data": ARR})

WEIGHT: Schema = {"type": "number", "minimum": 0, "maximum": 2}
PURPOSE: Schema = {"type": "string", "enum": list(PURPOSES)}
PROMPT: Schema = {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": r"\S"}
#: Where deliveries go: an https:// URL (the hosted API's rule) or, in the sandbox only, a
#: loopback http:// URL. Described as loopback so generated endpoints fail fast, not via DNS.
HOOK_URL: Schema = {
    "type": "string",
    "pattern": r"^http://127\.0\.0\.1:9/[a-z]{0,12}$",
    "description": "https://... or http://127.0.0.1/localhost (sandbox only)",
}
IMAGE_LORA: Schema = {"type": "string", "enum": [lora.slug for lora in catalog.IMAGE_LORAS]}
EVENTS: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "string", "enum": ["*", *EVENT_TYPES]},
}
IMAGE_BODY = _obj(
    {"prompt": PROMPT},
    {
        "negative_prompt": PROMPT,
        "lora_id": IMAGE_LORA,
        "size": {"type": "string", "enum": sorted(SIZE_PRESETS)},
        "steps": {"type": "integer", "minimum": 1, "maximum": 100},
        "guidance_scale": {"type": "number", "minimum": 0.1, "maximum": 30},
        "cfg_rescale": {"type": "number", "minimum": 0, "maximum": 1},
        "denoise_strength": {"type": "number", "minimum": 0, "maximum": 1},
        "seed": {"type": "integer", "minimum": -1, "maximum": SEED_MAX},
        "count": {"type": "integer", "minimum": 1, "maximum": 4},
        "enhance_prompt": BOOL,
    },
)
# Also accepted (left out so generated bodies stay valid together): ``loras`` (1-4 of
# {lora, weight}, not with lora_id), ``width``/``height`` (1024-4096, both, not with size),
# ``reference_image_urls``, ``character_id``, ``webhook_url``.
VIDEO_BODY = _obj(
    {"video_lora_id": {"type": "string", "enum": [lora.slug for lora in catalog.VIDEO_LORAS]}},
    {
        "prompt": PROMPT,
        "resolution": {"type": "string", "enum": list(VIDEO_RESOLUTIONS)},
        "ratio": {"type": "string", "enum": list(VIDEO_RATIOS)},
        "duration": {"type": "integer", "minimum": 2, "maximum": 12},
        "camera_fixed": BOOL,
        "watermark": BOOL,
        "enhance_prompt": BOOL,
    },
)
ENDPOINT_BODY = _obj(
    {"url": HOOK_URL, "events": EVENTS},
    {"description": STR, "metadata": {"type": "object", "maxProperties": 50}},
)
ENDPOINT_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "url": HOOK_URL,
        "events": EVENTS,
        "description": _null(STR),
        "metadata": OBJ,
        "is_active": BOOL,
    },
}
TEST_FIRE_BODY = _obj({"event_type": {"type": "string", "enum": list(EVENT_TYPES)}})
UPLOAD_BODY = _obj(
    {
        "file": BINARY,
        "purpose": {"type": "string", "enum": ["reference", "first_frame", "last_frame"]},
    },
    {"metadata": STR},
)
CHARACTER_STATUS: Schema = {
    "type": "string",
    "enum": ["synthesizing", "reviewing", "ready", "failed", "deleted", "cancelled"],
}
CHARACTER = _obj(
    {
        "id": STR,
        "object": {"type": "string", "enum": ["character"]},
        "name": STR,
        "status": CHARACTER_STATUS,
        "refs": {
            "type": "array",
            "items": _obj({"pose": {"type": "string", "enum": list(POSES)}, "url": STR}),
        },
        "attributes": OBJ,
        "error_message": _null(STR),
        "created_at": STR,
        "updated_at": STR,
    },
    {"client_reference_id": _null(STR), "aurous_version": STR},
)
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": 120, "pattern": r"\S"}
ATTRIBUTES_BODY: Schema = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        k: (
            {"type": "number", "minimum": 0, "maximum": 150}
            if k == "age"
            else {"type": "string", "maxLength": 200}
        )
        for k in ATTRIBUTES
    },
}
CHARACTER_BODY = _obj(
    {"name": NAME, "generate": {"type": "boolean", "enum": [True]}, "attributes": ATTRIBUTES_BODY},
    {"client_reference_id": {"type": "string", "maxLength": 256}},
)
# Also accepted (left out so generated bodies stay valid): ``upload_ids`` (1-6 ``upl_`` ids
# whose bytes were PUT) instead of ``generate``.
CHARACTER_PATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"name": NAME, "attributes": ATTRIBUTES_BODY},
}
UPLOAD_INIT_BODY = _obj(
    {
        "filename": {"type": "string", "minLength": 1, "maxLength": 120},
        "extension": {"type": "string", "enum": ["png"]},
        "content_type": {"type": "string", "enum": ["image/png"]},
    }
)
UPLOAD_TICKET = _obj(
    {"upload_id": STR, "upload_url": STR, "upload_headers": OBJ, "expires_at": STR},
    {"ticket_expires_at": STR},
)
CLASSIFIED = _obj(
    {"upload_id": STR, "pose": {"type": "string", "enum": list(POSES)}, "confidence": NUM}
)
RESYNTH_BODY = {"type": "object", "properties": {"force_all": BOOL}}
REGENERATE_BODY = _obj({"pose": {"type": "string", "enum": list(POSES)}}, {"prompt_override": STR})
CHARACTER_QUERY = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "starting_after": STR,
    "status": {"type": "string", "enum": list(LISTABLE)},
}


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _bytes(*media: str, partial: bool = False) -> dict[str, Schema]:
    content = {m: {"schema": BINARY} for m in media}
    out = {"200": {"description": "The bytes", "content": content}}
    if partial:
        out["206"] = {"description": "The requested byte range", "content": content}
    return out


REDIRECT = {
    "308": {
        "description": "Moved; follow Location (deprecated route)",
        "headers": {"Location": {"schema": STR}},
    }
}


class Op:
    """One operation: what the route takes and what it answers (besides the error envelope)."""

    def __init__(
        self,
        summary: str,
        responses: dict[str, Schema],
        *,
        body: Schema | None = None,
        multipart: Schema | None = None,
        query: dict[str, Schema] | None = None,
        public: bool = False,
        tag: str = "v1",
        raw_body: str | None = None,
    ) -> None:
        self.summary = summary
        self.responses = responses
        self.body = body
        self.raw_body = raw_body
        self.multipart = multipart
        self.query = query or {}
        self.public = public
        self.tag = tag


def _ok(schema: Schema, status: str = "200") -> dict[str, Schema]:
    return {status: _json(schema)}


LIST_QUERY = {
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "starting_after": STR,
    "ending_before": STR,
}
USAGE_QUERY = {
    "start_time": {"type": "string", "format": "date-time"},
    "end_time": STR,
    "bucket_width": {"type": "string", "enum": ["1h", "1d"]},
    "group_by": STR,
    "limit": {"type": "integer", "minimum": 1, "maximum": 100},
    "page_token": STR,
}
LEGACY = ["get", "post", "put", "patch", "delete"]

#: path -> method -> operation; paths use OpenAPI templating (``{rest}``, not ``{rest:path}``).
OPERATIONS: dict[str, dict[str, Op]] = {
    "/v1/balance": {"get": Op("The team's credits", _ok(BALANCE))},
    "/v1/team": {"get": Op("The team", _ok(TEAM))},
    "/v1/pricing": {"get": Op("The rate card of the pinned version", _ok(PRICING))},
    "/v1/usage": {"get": Op("Credits spent, bucketed", _ok(USAGE), query=USAGE_QUERY)},
    "/v1/loras": {"get": Op("Image LoRAs", _ok({"type": "array", "items": LORA}))},
    "/v1/loras/{id}": {"get": Op("One image LoRA (id or slug)", _ok(LORA))},
    "/v1/video_loras": {"get": Op("Video LoRAs", _ok({"type": "array", "items": LORA}))},
    "/v1/video_loras/{id}": {"get": Op("One video LoRA (id or slug)", _ok(LORA))},
    "/v1/images": {
        "post": Op("Create an image generation", _ok(GENERATION, "201"), body=IMAGE_BODY),
        "get": Op("Generations, newest first", _ok(_list_of(GENERATION)), query=LIST_QUERY),
    },
    "/v1/images/estimate": {"post": Op("Price an image request", _ok(ESTIMATE), body=IMAGE_BODY)},
    "/v1/images/{id}": {"get": Op("One generation (image or video)", _ok(GENERATION))},
    "/v1/images/{id}/cancel": {"post": Op("Cancel a running generation", _ok(GENERATION))},
    "/v1/images/{id}/output/{n}": {
        "get": Op(
            "Image output n (key or signed token)",
            _bytes("image/png"),
            query={"token": STR},
        )
    },
    "/v1/videos": {
        "post": Op("Create a video generation", _ok(GENERATION, "201"), body=VIDEO_BODY)
    },
    "/v1/videos/estimate": {"post": Op("Price a video request", _ok(ESTIMATE), body=VIDEO_BODY)},
    "/v1/videos/{id}/output": {
        "get": Op(
            "The video (key or signed token; Range supported)",
            _bytes("video/mp4", partial=True),
            query={"token": STR},
        )
    },
    "/v1/files": {
        "post": Op(
            "Upload a reference image (10 MB at most)", _ok(FILE, "201"), multipart=UPLOAD_BODY
        )
    },
    "/v1/files/{id}": {
        "get": Op("One uploaded file", _ok(FILE)),
        "delete": Op("Delete an uploaded file", _ok(DELETED)),
    },
    "/v1/webhook_endpoints": {
        "post": Op("Register a webhook endpoint", _ok(ENDPOINT, "201"), body=ENDPOINT_BODY),
        "get": Op("Webhook endpoints", _ok(_list_of(ENDPOINT)), query=LIST_QUERY),
    },
    "/v1/webhook_endpoints/{id}": {
        "get": Op("One webhook endpoint", _ok(ENDPOINT)),
        "patch": Op("Update a webhook endpoint", _ok(ENDPOINT), body=ENDPOINT_PATCH),
        "delete": Op("Delete a webhook endpoint", _ok(DELETED)),
    },
    "/v1/webhook_endpoints/{id}/rotate_secret": {
        "post": Op("Rotate the signing secret (old one signs 24 h more)", _ok(ENDPOINT))
    },
    "/v1/webhook_endpoints/{id}/test": {
        "post": Op(
            "Send a synthetic event",
            _ok(_obj({"object": STR, "endpoint_id": STR, "event_id": STR, "enqueued": BOOL})),
            body=TEST_FIRE_BODY,
        )
    },
    "/v1/characters/uploads/init": {
        "post": Op(
            "An upload ticket: a signed PUT URL (15 min)", _ok(UPLOAD_TICKET), body=UPLOAD_INIT_BODY
        )
    },
    "/v1/characters/uploads/classify": {
        "post": Op(
            "The pose of an uploaded image (free)", _ok(CLASSIFIED), body=_obj({"upload_id": STR})
        )
    },
    "/v1/characters": {
        "post": Op(
            "Create a character from uploads or by synthesis (4 generations)",
            _ok(CHARACTER, "201"),
            body=CHARACTER_BODY,
        ),
        "get": Op("Characters, newest first", _ok(_list_of(CHARACTER)), query=CHARACTER_QUERY),
    },
    "/v1/characters/{id}": {
        "get": Op("One character", _ok(CHARACTER)),
        "patch": Op("Rename or replace the attributes", _ok(CHARACTER), body=CHARACTER_PATCH),
        "delete": Op("Delete (hard in reviewing, soft otherwise)", _ok(DELETED)),
    },
    "/v1/characters/{id}/save": {"post": Op("reviewing -> ready (free)", _ok(CHARACTER))},
    "/v1/characters/{id}/resynthesize": {
        "post": Op("Render the four poses again (4 generations)", _ok(CHARACTER), body=RESYNTH_BODY)
    },
    "/v1/characters/{id}/refs/regenerate": {
        "post": Op("Render one pose again (1 generation)", _ok(CHARACTER), body=REGENERATE_BODY)
    },
    **{
        path: {
            m: Op("Deprecated route (308 to /v1/images or /v1/videos)", REDIRECT) for m in LEGACY
        }
        for path in (
            "/v1/generations",
            "/v1/generations/{rest}",
            "/v1/video-generations",
            "/v1/video-generations/{rest}",
        )
    },
    "/docs": {"get": Op("Moved to docs.aurous-labs.com", REDIRECT, public=True, tag="meta")},
    "/api-spec.json": {"get": Op("This description", _ok(OBJ), public=True, tag="meta")},
    "/_sandbox/ledger": {
        "get": Op(
            "Every generation and the credit totals (sandbox only)",
            _ok(_obj({"object": STR, "generations": ARR, "totals": OBJ, "chaos": OBJ})),
            public=True,
            tag="sandbox",
        )
    },
    "/_sandbox/webhooks": {
        "get": Op(
            "Every webhook delivery attempt (sandbox only)",
            _ok(_obj({"object": STR, "data": ARR, "endpoints": ARR})),
            public=True,
            tag="sandbox",
        )
    },
    "/_sandbox/stats": {
        "get": Op(
            "Chaos counters and rate-limit buckets (sandbox only)",
            _ok(_obj({"chaos": OBJ, "buckets": OBJ})),
            public=True,
            tag="sandbox",
        )
    },
    "/_sandbox/previews/{name}": {
        "get": Op(
            "A LoRA preview (slug.png or slug.mp4)",
            _bytes("image/png", "video/mp4", partial=True),
            public=True,
            tag="sandbox",
        )
    },
    "/_sandbox/uploads/{id}": {
        "put": Op(
            "The bytes of a character upload ticket (signed URL, no key)",
            {"200": {"description": "Stored"}},
            query={"token": STR},
            public=True,
            tag="sandbox",
            raw_body="image/png",
        )
    },
    "/_sandbox/character_refs/{id}/{name}": {
        "get": Op(
            "A character ref's bytes (signed token)",
            _bytes("image/png", "image/jpeg", "image/webp"),
            query={"token": STR},
            public=True,
            tag="sandbox",
        )
    },
    "/_sandbox/characters/foreign": {
        "post": Op(
            "Plant a character and an upload of another team (sandbox only)",
            _ok(_obj({"character_id": STR, "upload_id": STR}), "201"),
            public=True,
            tag="sandbox",
        )
    },
    "/_sandbox/files/{id}": {
        "get": Op(
            "An uploaded file's bytes (signed token)",
            _bytes("image/png", "image/jpeg", "image/webp"),
            query={"token": STR},
            public=True,
            tag="sandbox",
        )
    },
}


def _path_params(path: str) -> list[Schema]:
    names = [part[1:-1] for part in path.split("/") if part.startswith("{")]
    return [{"name": n, "in": "path", "required": True, "schema": STR} for n in names]


def operation_id(path: str, method: str) -> str:
    """``get_v1_images_id`` for ``GET /v1/images/{id}``."""
    return method + "_" + re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")


#: create operation -> the operations that take the ``id`` it returns (OpenAPI links, so a
#: stateful contract run reaches past 404s).
LINKS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("/v1/images", "post"): [
        ("/v1/images/{id}", "get"),
        ("/v1/images/{id}/cancel", "post"),
        ("/v1/images/{id}/output/{n}", "get"),
    ],
    ("/v1/videos", "post"): [("/v1/images/{id}", "get"), ("/v1/videos/{id}/output", "get")],
    ("/v1/files", "post"): [("/v1/files/{id}", "get"), ("/v1/files/{id}", "delete")],
    ("/v1/characters", "post"): [
        ("/v1/characters/{id}", "get"),
        ("/v1/characters/{id}", "patch"),
        ("/v1/characters/{id}/save", "post"),
        ("/v1/characters/{id}/resynthesize", "post"),
        ("/v1/characters/{id}/refs/regenerate", "post"),
        ("/v1/characters/{id}", "delete"),
    ],
    ("/v1/webhook_endpoints", "post"): [
        ("/v1/webhook_endpoints/{id}", "get"),
        ("/v1/webhook_endpoints/{id}", "patch"),
        ("/v1/webhook_endpoints/{id}/rotate_secret", "post"),
        ("/v1/webhook_endpoints/{id}/test", "post"),
        ("/v1/webhook_endpoints/{id}", "delete"),
    ],
}


def _links(path: str, method: str) -> dict[str, Schema]:
    return {
        operation_id(target, verb): {
            "operationId": operation_id(target, verb),
            "parameters": {"id": "$response.body#/id"},
        }
        for target, verb in LINKS.get((path, method), [])
    }


def _operation(path: str, method: str, op: Op) -> Schema:
    params = [*_path_params(path), VERSION_HEADER]
    params += [
        {"name": k, "in": "query", "required": False, "schema": v} for k, v in op.query.items()
    ]
    out: Schema = {
        "operationId": operation_id(path, method),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": params,
        "responses": {
            **{status: dict(response) for status, response in op.responses.items()},
            "default": {"$ref": "#/components/responses/Error"},
        },
    }
    links = _links(path, method)
    if links:
        for status, response in out["responses"].items():
            if status.startswith("2"):
                response["links"] = links
    if op.public:
        out["security"] = []
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "description": f"UTF-8 JSON of at most {bodies.JSON_LIMIT // bodies.MiB} MiB (more is "
            "413 request_too_large; another encoding is 400 invalid_format).",
            "content": {"application/json": {"schema": op.body}},
        }
    elif op.raw_body is not None:
        out["requestBody"] = {
            "required": True,
            "description": f"The image bytes, at most {bodies.UPLOAD_LIMIT // bodies.MiB} MiB "
            "(more is 413 request_too_large).",
            "content": {op.raw_body: {"schema": BINARY}},
        }
    elif op.multipart is not None:
        out["requestBody"] = {
            "required": True,
            "description": f"At most {bodies.UPLOAD_LIMIT // bodies.MiB} MiB in all (more is 413 "
            "request_too_large).",
            "content": {"multipart/form-data": {"schema": op.multipart}},
        }
    if "requestBody" in out:
        out["responses"]["413"] = {"$ref": "#/components/responses/TooLarge"}
    return out


@lru_cache(maxsize=1)
def _build() -> Schema:
    paths = {
        path: {m: _operation(path, m, op) for m, op in ops.items()}
        for path, ops in OPERATIONS.items()
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Aurous Labs v1 API (aurous_nb sandbox)",
            "version": "2026-05-15",
            "description": "What the local sandbox serves; the hosted API's contract, plus the "
            "sandbox-only /_sandbox routes.",
        },
        "servers": [{"url": "/"}],
        "security": [{"api-key": []}, {"bearer": []}],
        "tags": [
            {"name": "v1", "description": "The hosted API's routes"},
            {"name": "meta", "description": "Docs and this description"},
            {"name": "sandbox", "description": "Sandbox-only inspection routes"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "api-key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {"Error": ERROR, "Generation": GENERATION, "Character": CHARACTER},
            "responses": {
                "Error": _json(ERROR, "The error envelope (every non-2xx answer)"),
                "TooLarge": _json(ERROR, "The body is over its cap (request_too_large)"),
            },
        },
    }


def spec() -> Schema:
    """The OpenAPI document (a fresh copy; built once per process)."""
    return copy.deepcopy(_build())


def operations() -> set[tuple[str, str]]:
    """``(METHOD, path)`` for every operation described, for the route-coverage test."""
    return {(m.upper(), path) for path, ops in OPERATIONS.items() for m in ops}
