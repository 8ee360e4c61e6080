"""``/v1/files``: multipart uploads checked with Pillow, plus the signed content URL."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aurous_nb.sandbox.config import SandboxConfig
from aurous_nb.sandbox.errors import ApiError, bad_request, not_found
from aurous_nb.sandbox.files import PURPOSES, StoredFile, inspect_image
from aurous_nb.sandbox.idempotency import key_from_headers
from aurous_nb.sandbox.ids import new_id
from aurous_nb.sandbox.outputs import expired
from aurous_nb.sandbox.responses import base_url, json_response, run_idempotent
from aurous_nb.sandbox.state import SandboxState
from aurous_nb.sandbox.validation import check_unicode


class FileRoutes:
    """Upload, get, delete, and the sandbox-served bytes behind each file's ``url``."""

    def __init__(self, state: SandboxState, config: SandboxConfig) -> None:
        self.state = state
        self.config = config

    async def upload_file(self, request: Request) -> Response:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise bad_request("invalid_format", "Upload files as multipart/form-data.", "file")
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > 11 * 1024 * 1024:
            raise bad_request("value_out_of_range", "Files may be at most 10 MB.", "file")
        key = key_from_headers(request.headers)
        async with request.form(max_files=4, max_fields=16) as form:
            upload = form.get("file")
            purpose = form.get("purpose")
            metadata_text = form.get("metadata")
            if upload is None or isinstance(upload, str):
                raise bad_request("missing_field", "'file' is required (a file part).", "file")
            data = await upload.read()
        if purpose is None:
            raise bad_request("missing_field", "'purpose' is required.", "purpose")
        if purpose not in PURPOSES:
            raise bad_request(
                "invalid_format", f"'purpose' must be one of {', '.join(PURPOSES)}.", "purpose"
            )
        metadata: dict[str, Any] | None = None
        if metadata_text is not None:
            try:
                metadata = json.loads(str(metadata_text))
            except ValueError:
                metadata = None
            if not isinstance(metadata, dict):
                raise bad_request(
                    "invalid_format", "'metadata' must be a JSON-encoded object.", "metadata"
                )
            check_unicode(metadata, "metadata")

        async def work() -> Response:
            mime, width, height = inspect_image(data)
            stored = StoredFile(
                id=new_id("file"),
                purpose=str(purpose),
                mime_type=mime,
                data=data,
                width=width,
                height=height,
                metadata=metadata,
                created_at=time.time(),
                ttl=self.config.file_ttl,
            )
            self.state.files[stored.id] = stored
            self.state.files_uploaded += 1
            base = base_url(request, self.config)
            return json_response(stored.to_json(self.state.signer, base, time.time()), 201)

        fp = {"purpose": purpose, "metadata": metadata}
        return await run_idempotent(
            self.state.idempotency, request, key, "POST /v1/files", fp, work
        )

    async def get_file(self, request: Request) -> Response:
        stored = self.state.file(request.path_params["id"])
        if stored is None:
            raise not_found("File", "id")
        return json_response(
            stored.to_json(self.state.signer, base_url(request, self.config), time.time())
        )

    async def delete_file(self, request: Request) -> Response:
        file_id = request.path_params["id"]
        existed = self.state.file(file_id) is not None
        self.state.files.pop(file_id, None)
        return json_response({"id": file_id, "object": "file", "deleted": existed})

    async def file_content(self, request: Request) -> Response:
        stored = self.state.file(request.path_params["id"])
        if stored is None:
            raise not_found("File", "id")
        exp = self.state.signer.check(request.query_params.get("token", ""), "file", stored.id, "0")
        if expired(exp):
            raise ApiError(410, "output_expired", "This file URL has expired; re-fetch the file.")
        return Response(stored.data, media_type=stored.mime_type)

    def routes(self) -> list[Route]:
        return [
            Route("/v1/files", self.upload_file, methods=["POST"]),
            Route("/v1/files/{id}", self.get_file, methods=["GET"]),
            Route("/v1/files/{id}", self.delete_file, methods=["DELETE"]),
            Route("/_sandbox/files/{id}", self.file_content, methods=["GET"]),
        ]
