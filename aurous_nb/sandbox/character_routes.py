"""``/v1/characters``: upload tickets, classify, create (uploads or synthesis), list, get, PATCH,
DELETE, save, resynthesize and refs/regenerate (contract §2.28-2.37), plus the sandbox-served
pieces behind them: the signed PUT URL of a ticket and the signed ``.bin`` URL of a ref.

Money and state live in :mod:`aurous_nb.sandbox.characters`; this module reads requests, checks
them and answers. ``POST /v1/characters`` draws its rate-limit token here, not in the gate: only
the body says whether it is an upload (``characters_post``) or a synthesis
(``characters_synthesize``).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aurous_nb.sandbox import bodies, validation
from aurous_nb.sandbox.characters import (
    ATTRIBUTES,
    LISTABLE,
    MAX_UPLOADS,
    NAME_MAX,
    POSES,
    REGENERATE_GENERATIONS,
    SYNTH_GENERATIONS,
    SYNTH_POSES,
    Character,
    CharacterStore,
    Ref,
    Upload,
)
from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.sandbox.errors import ApiError, bad_request, not_found
from aurous_nb.sandbox.files import inspect_image
from aurous_nb.sandbox.idempotency import key_from_headers
from aurous_nb.sandbox.ids import new_id
from aurous_nb.sandbox.outputs import expired
from aurous_nb.sandbox.pricing import CARDS, num
from aurous_nb.sandbox.responses import base_url, int_param, json_response, run_idempotent
from aurous_nb.sandbox.responses import version as pinned_version
from aurous_nb.sandbox.state import SandboxState
from aurous_nb.sandbox.timefmt import iso

EXTENSIONS = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
CLIENT_REFERENCE_MAX = 256
TEXT_ATTRIBUTE_MAX = 200
DETAILS_MAX = 1000
FOREIGN_TEAM = "team_00000000000000000000000000"


def _not_found() -> ApiError:
    return not_found("Character", "character_id")


def _state_error(message: str, param: str | None = None) -> ApiError:
    return bad_request("invalid_request_error", message, param)


def _upload_invalid(message: str, param: str) -> ApiError:
    return bad_request("upload_invalid", message, param)


def _name(body: dict[str, Any], *, required: bool) -> str | None:
    name = validation.get_str(body, "name", required=required)
    if name is None:
        return None
    if not name.strip():
        raise bad_request("invalid_format", "'name' must not be blank.", "name")
    if len(name) > NAME_MAX:
        raise bad_request("invalid_request", f"'name' must be at most {NAME_MAX} chars.", "name")
    return name


def _attributes(value: Any) -> dict[str, Any]:
    """The locked v1.0 attribute set; any other key is refused, naming it."""
    if not isinstance(value, dict):
        raise bad_request("invalid_format", "'attributes' must be an object.", "attributes")
    out: dict[str, Any] = {}
    for key, item in value.items():
        param = f"attributes.{key}"
        if key not in ATTRIBUTES:
            raise bad_request(
                "invalid_request",
                f"Unknown attribute {key!r}; known: {', '.join(ATTRIBUTES)}.",
                param,
            )
        if item is None:
            continue
        if key == "age":
            age = validation.get_number(value, "age", 0, 150, param=param)
            out[key] = int(age) if age is not None and age.is_integer() else age
            continue
        if not isinstance(item, str):
            raise bad_request("invalid_format", f"'{param}' must be a string.", param)
        limit = DETAILS_MAX if key == "additional_details" else TEXT_ATTRIBUTE_MAX
        if len(item) > limit:
            raise bad_request("value_out_of_range", f"'{param}' is over {limit} chars.", param)
        out[key] = item
    return out


async def _optional_body(request: Request) -> dict[str, Any]:
    """A JSON object body, or ``{}`` when none was sent (the POST actions take no body)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    return await bodies.json_object(request)


class CharacterRoutes:
    """The team's characters (the store keeps them; see the module docstring)."""

    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.state = state
        self.config = config
        self.store: CharacterStore = state.characters
        self.store.on_event.append(self._announce)

    # -- helpers ----------------------------------------------------------------------------

    @property
    def team_id(self) -> str:
        return str(self.state.team.id)

    def _json(self, char: Character, request: Request | None = None) -> dict[str, Any]:
        base = base_url(request, self.config) if request is not None else None
        return char.to_json(self.state.signer, base)

    def _char(self, request: Request) -> Character:
        char = self.store.find(request.path_params["id"], self.team_id)
        if char is None:
            raise _not_found()
        return char

    def _announce(self, event_type: str, char: Character) -> None:
        """``character.*`` webhooks (only from the server's loop: never from a bare settle)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self.state.webhooks.emit(event_type, self._json(char))

    def _price(self, request: Request, generations: int) -> float:
        """What ``generations`` cost under the pinned rate card; 402 when it cannot be held."""
        cost = CARDS[pinned_version(request)].image_base * generations
        team = self.state.team
        if team.gated and team.available < cost:
            raise ApiError(
                402,
                "insufficient_credits",
                f"Team available balance is {num(team.available)} credits, this needs {num(cost)}.",
                type="invalid_request",
            )
        return cost

    # -- upload tickets ---------------------------------------------------------------------

    async def upload_init(self, request: Request) -> Response:
        body = await bodies.json_object(request)
        filename = validation.get_str(body, "filename", required=True)
        assert filename is not None
        if not 1 <= len(filename) <= 120:
            raise bad_request(
                "value_out_of_range", "'filename' must be 1 to 120 chars.", "filename"
            )
        extension = validation.get_str(body, "extension", required=True)
        if extension not in EXTENSIONS:
            raise bad_request(
                "invalid_format",
                f"'extension' must be one of {', '.join(EXTENSIONS)}.",
                "extension",
            )
        content_type = validation.get_str(body, "content_type", required=True)
        if content_type not in set(EXTENSIONS.values()):
            raise bad_request(
                "invalid_format",
                "'content_type' must be image/jpeg, image/png or image/webp.",
                "content_type",
            )
        if EXTENSIONS[extension] != content_type:
            raise bad_request(
                "parameter_invalid_combination",
                f"'content_type' {content_type} does not match the extension '{extension}'.",
                "content_type",
            )
        now = time.time()
        upload = Upload(
            id=new_id("upl", now),
            team_id=self.team_id,
            filename=filename,
            extension=extension,
            content_type=content_type,
            created_at=now,
            url_expires_at=now + self.config.upload_url_ttl,
            expires_at=now + self.config.upload_ticket_ttl,
        )
        self.store.uploads[upload.id] = upload
        token = self.state.signer.mint("upload", upload.id, "put", upload.url_expires_at)
        return json_response(
            {
                "upload_id": upload.id,
                "upload_url": f"{base_url(request, self.config)}/_sandbox/uploads/{upload.id}"
                f"?token={token}",
                "upload_headers": {"Content-Type": content_type},
                "expires_at": iso(upload.url_expires_at),
                "ticket_expires_at": iso(upload.expires_at),
            }
        )

    async def upload_put(self, request: Request) -> Response:
        """The signed, keyless PUT of a ticket's bytes (the hosted API's storage host)."""
        if request.headers.get("x-api-key") or request.headers.get("authorization"):
            raise bad_request(
                "invalid_request",
                "Upload URLs are pre-signed: do not send an API key to them.",
                "X-Api-Key",
            )
        upload = self.store.upload(request.path_params["id"])
        if upload is None:
            raise not_found("Upload", "upload_id")
        exp = self.state.signer.check(
            request.query_params.get("token", ""), "upload", upload.id, "put"
        )
        if expired(min(exp, upload.url_expires_at)):
            raise ApiError(403, "upload_url_expired", "This upload URL has expired (15 min).")
        if upload.consumed or time.time() >= upload.expires_at:
            raise _upload_invalid("This upload ticket is consumed or expired.", "upload_id")
        sent_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if sent_type != upload.content_type:
            raise bad_request(
                "invalid_format",
                f"Send Content-Type: {upload.content_type} (the ticket's upload_headers).",
                "Content-Type",
            )
        data = await request.body()
        mime, _, _ = inspect_image(data)
        if mime != upload.content_type:
            raise bad_request(
                "invalid_format", f"The bytes are {mime}, not {upload.content_type}.", "file"
            )
        upload.data = data
        etag = hashlib.sha256(data).hexdigest()[:32]
        return Response(status_code=200, headers={"ETag": f'"{etag}"'})

    def _usable_upload(self, upload_id: Any, param: str) -> Upload:
        if not isinstance(upload_id, str) or not upload_id:
            raise bad_request("invalid_format", f"'{param}' must be an upload id.", param)
        upload = self.store.upload(upload_id)
        if upload is None:
            raise _upload_invalid("Unknown upload id.", param)
        if upload.team_id != self.team_id:
            raise not_found("Upload", param)
        if upload.consumed:
            raise _upload_invalid("This upload was already used by a character.", param)
        if time.time() >= upload.expires_at:
            raise _upload_invalid("This upload ticket has expired (24 h).", param)
        if upload.data is None:
            raise _upload_invalid("Nothing was uploaded to this ticket's URL yet.", param)
        return upload

    async def upload_classify(self, request: Request) -> Response:
        from aurous_nb.sandbox.poses import classify

        body = await bodies.json_object(request)
        upload_id = validation.get_str(body, "upload_id", required=True)
        upload = self._usable_upload(upload_id, "upload_id")
        assert upload.data is not None
        pose, confidence = classify(upload.data)
        upload.pose = pose
        return json_response({"upload_id": upload.id, "pose": pose, "confidence": confidence})

    # -- create -----------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        limiter = self.state.limiter
        bucket = "characters_post"
        try:
            key = key_from_headers(request.headers)
            body = await bodies.json_object(request)
            if body.get("generate") is True:
                bucket = "characters_synthesize"
        except ApiError as err:
            err.headers = {**err.headers, **_header_map(limiter.peek(bucket).headers())}
            raise
        verdict = limiter.draw(bucket)
        rate_headers = _header_map(verdict.headers())
        if not verdict.allowed:
            raise ApiError(
                429,
                "too_many_requests",
                f"Rate limit exceeded for {bucket}. Retry after {verdict.retry_after}s.",
                headers=rate_headers,
            )

        async def work() -> Response:
            return json_response(self._create(request, body, key), 201)

        try:
            response = await run_idempotent(
                self.state.idempotency, request, key, "POST /v1/characters", body, work
            )
        except ApiError as err:
            err.headers = {**err.headers, **rate_headers}
            raise
        response.headers.update(rate_headers)
        return response

    def _create(self, request: Request, body: dict[str, Any], key: str | None) -> dict[str, Any]:
        name = _name(body, required=True)
        assert name is not None
        generate = validation.get_bool(body, "generate")
        upload_ids = body.get("upload_ids")
        if (upload_ids is not None) == bool(generate):
            raise bad_request(
                "parameter_invalid_combination",
                "Send exactly one of 'upload_ids' or 'generate': true.",
                "upload_ids" if upload_ids is not None else "generate",
            )
        reference = validation.get_str(body, "client_reference_id")
        if reference is not None and len(reference) > CLIENT_REFERENCE_MAX:
            raise bad_request(
                "value_out_of_range",
                f"'client_reference_id' must be at most {CLIENT_REFERENCE_MAX} chars.",
                "client_reference_id",
            )
        raw_attributes = body.get("attributes")
        if generate and raw_attributes is None:
            raise bad_request("missing_field", "A synthesis needs 'attributes'.", "attributes")
        attributes = {} if raw_attributes is None else _attributes(raw_attributes)
        now = time.time()
        char = Character(
            id=new_id("char", now),
            team_id=self.team_id,
            name=name,
            attributes=attributes,
            status="synthesizing" if generate else "ready",
            created_at=now,
            updated_at=now,
            aurous_version=pinned_version(request),
            base_url=base_url(request, self.config),
            client_reference_id=reference,
        )
        if generate:
            cost = self._price(request, SYNTH_GENERATIONS)
            self.store.add(char)
            self.store.start(char, SYNTH_POSES, cost, key)
            return self._json(char, request)
        uploads = self._uploads(upload_ids)
        for upload in uploads:
            assert upload.data is not None
            upload.consumed = True
            char.refs.append(Ref(upload.pose or "other", upload.data, upload.content_type))
        self.store.add(char)
        self.store.emit("character.completed", char)
        return self._json(char, request)

    def _uploads(self, upload_ids: Any) -> list[Upload]:
        if not isinstance(upload_ids, list):
            raise bad_request("invalid_format", "'upload_ids' must be an array.", "upload_ids")
        if not 1 <= len(upload_ids) <= MAX_UPLOADS:
            raise bad_request(
                "value_out_of_range", f"'upload_ids' takes 1 to {MAX_UPLOADS} ids.", "upload_ids"
            )
        uploads = [self._usable_upload(u, f"upload_ids[{i}]") for i, u in enumerate(upload_ids)]
        if len({u.id for u in uploads}) != len(uploads):
            raise _upload_invalid("An upload id appears twice.", "upload_ids")
        return uploads

    # -- reads ------------------------------------------------------------------------------

    async def list_characters(self, request: Request) -> Response:
        self.store.settle()
        params = request.query_params
        limit = int_param(params.get("limit"), "limit", 20, 1, 100)
        status = params.get("status")
        if status is not None and status not in LISTABLE:
            raise bad_request(
                "invalid_request",
                f"'status' must be one of {', '.join(LISTABLE)}.",
                "status",
            )
        rows = [c for c in reversed(self.store.order) if c.team_id == self.team_id]
        after = params.get("starting_after")
        if after:
            ids = [c.id for c in rows]
            if after not in ids:
                raise not_found("Cursor character", "starting_after")
            rows = rows[ids.index(after) + 1 :]
        window = [c for c in rows if c.visible and (status is None or c.status == status)]
        page, has_more = window[:limit], len(window) > limit
        return json_response(
            {
                "object": "list",
                "data": [self._json(c, request) for c in page],
                "has_more": has_more,
                "next_cursor": page[-1].id if has_more and page else None,
            }
        )

    async def get_character(self, request: Request) -> Response:
        return json_response(self._json(self._char(request), request))

    # -- changes ----------------------------------------------------------------------------

    async def update(self, request: Request) -> Response:
        char = self._char(request)
        body = await bodies.json_object(request)
        rejected = [k for k in body if k not in ("name", "attributes")]
        if rejected:
            raise bad_request(
                "invalid_request",
                "Only 'name' and 'attributes' can be changed; not "
                + ", ".join(repr(k) for k in rejected)
                + ".",
                rejected[0],
            )
        name = _name(body, required=False) if "name" in body else None
        attributes = _attributes(body["attributes"]) if "attributes" in body else None
        if name is not None:
            char.name = name
        if attributes is not None:
            char.attributes = attributes  # replaced whole, never merged
        char.updated_at = time.time()
        return json_response(self._json(char, request))

    async def delete(self, request: Request) -> Response:
        char = self._char(request)
        if char.status == "reviewing":
            self.store.drop(char)  # cancel-review: the row is gone
        else:
            if char.status == "synthesizing":
                self.store.cancel(char)
            else:
                char.status = "deleted"
            char.deleted_at = char.updated_at = time.time()
        return json_response({"id": char.id, "object": "character", "deleted": True})

    async def save(self, request: Request) -> Response:
        char = self._char(request)
        if char.status in ("synthesizing", "failed"):
            raise _state_error(f"A '{char.status}' character cannot be saved; wait for reviewing.")
        if char.status == "reviewing":
            char.status = "ready"
            char.updated_at = time.time()
            self.store.emit("character.completed", char)
        return json_response(self._json(char, request))

    async def resynthesize(self, request: Request) -> Response:
        key = key_from_headers(request.headers)
        char = self._char(request)
        body = await _optional_body(request)
        validation.get_bool(body, "force_all")

        async def work() -> Response:
            if char.status not in ("reviewing", "ready", "failed"):
                raise _state_error(f"A '{char.status}' character cannot be resynthesized.")
            if not char.visible:
                raise _not_found()
            cost = self._price(request, SYNTH_GENERATIONS)
            self.store.start(char, SYNTH_POSES, cost, key)
            return json_response(self._json(char, request))

        route = f"POST /v1/characters/{char.id}/resynthesize"
        return await run_idempotent(self.state.idempotency, request, key, route, body, work)

    async def regenerate(self, request: Request) -> Response:
        key = key_from_headers(request.headers)
        char = self._char(request)
        body = await bodies.json_object(request)
        pose = validation.get_str(body, "pose", required=True)
        if pose not in POSES:
            raise _state_error(f"'pose' must be one of {', '.join(POSES)}.", "pose")
        validation.get_str(body, "prompt_override")  # accepted, not used (as documented)

        async def work() -> Response:
            if char.status not in ("reviewing", "ready"):
                raise _state_error(f"A '{char.status}' character cannot regenerate a ref.")
            if not char.visible:
                raise _not_found()
            cost = self._price(request, REGENERATE_GENERATIONS)
            self.store.start(char, (str(pose),), cost, key)
            return json_response(self._json(char, request))

        route = f"POST /v1/characters/{char.id}/refs/regenerate"
        return await run_idempotent(self.state.idempotency, request, key, route, body, work)

    # -- sandbox-served bytes and fixtures --------------------------------------------------

    async def ref_content(self, request: Request) -> Response:
        char = self.store.characters.get(request.path_params["id"])
        stem, _, ext = str(request.path_params["name"]).partition(".")
        if char is None or not char.visible or ext != "bin" or not stem.isdigit():
            raise not_found("Character ref", "name")
        exp = self.state.signer.check(
            request.query_params.get("token", ""), "character_ref", char.id, stem
        )
        if expired(exp):
            raise ApiError(410, "output_expired", "This ref URL has expired; get the character.")
        n = int(stem)
        if n >= len(char.refs):
            raise not_found("Character ref", "name")
        ref = char.refs[n]
        return Response(ref.data, media_type=ref.mime)

    async def plant_foreign(self, request: Request) -> Response:
        """A ready character and an uploaded ticket of another team (sandbox only), so tests can
        show that neither is reachable from this team."""
        from aurous_nb.sandbox.poses import render_pose

        now = time.time()
        data = render_pose("Someone else", {}, "portrait")
        char = Character(
            id=new_id("char", now),
            team_id=FOREIGN_TEAM,
            name="Someone else",
            attributes={},
            status="ready",
            created_at=now,
            updated_at=now,
            aurous_version=pinned_version(request),
            base_url=base_url(request, self.config),
            refs=[Ref("portrait", data)],
        )
        self.store.add(char)
        upload = Upload(
            id=new_id("upl", now),
            team_id=FOREIGN_TEAM,
            filename="other.png",
            extension="png",
            content_type="image/png",
            created_at=now,
            url_expires_at=now + self.config.upload_url_ttl,
            expires_at=now + self.config.upload_ticket_ttl,
            data=data,
        )
        self.store.uploads[upload.id] = upload
        return json_response({"character_id": char.id, "upload_id": upload.id}, 201)

    def routes(self) -> list[Route]:
        base = "/v1/characters"
        return [
            Route(base + "/uploads/init", self.upload_init, methods=["POST"]),
            Route(base + "/uploads/classify", self.upload_classify, methods=["POST"]),
            Route(base, self.create, methods=["POST"]),
            Route(base, self.list_characters, methods=["GET"]),
            Route(base + "/{id}", self.get_character, methods=["GET"]),
            Route(base + "/{id}", self.update, methods=["PATCH"]),
            Route(base + "/{id}", self.delete, methods=["DELETE"]),
            Route(base + "/{id}/save", self.save, methods=["POST"]),
            Route(base + "/{id}/resynthesize", self.resynthesize, methods=["POST"]),
            Route(base + "/{id}/refs/regenerate", self.regenerate, methods=["POST"]),
            Route("/_sandbox/uploads/{id}", self.upload_put, methods=["PUT"]),
            Route("/_sandbox/character_refs/{id}/{name}", self.ref_content, methods=["GET"]),
            Route("/_sandbox/characters/foreign", self.plant_foreign, methods=["POST"]),
        ]


def _header_map(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
