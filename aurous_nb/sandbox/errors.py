"""The error envelope every non-2xx response carries, and the exception routes raise to send one."""

from __future__ import annotations

import json
from typing import Any

DOC_URL = "https://docs.aurous-labs.com/errors#"

TYPE_FOR_STATUS: dict[int, str] = {
    400: "invalid_request",
    401: "authentication",
    402: "invalid_request",
    403: "authentication",
    404: "not_found",
    405: "invalid_request",
    409: "invalid_request",
    410: "not_found",
    413: "invalid_request",
    416: "invalid_request",
    422: "invalid_request",
    429: "rate_limit",
}


def error_type(status: int) -> str:
    """The coarse ``type`` for an HTTP status (server_error for every 5xx)."""
    return TYPE_FOR_STATUS.get(status, "server_error" if status >= 500 else "invalid_request")


class ApiError(Exception):
    """Raised anywhere in a request to answer with the contract's error envelope."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.type = type or error_type(status)
        self.headers = headers or {}

    def payload(self, request_id: str) -> dict[str, Any]:
        return {
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "doc_url": DOC_URL + self.code,
                "request_id": request_id,
            }
        }

    def body(self, request_id: str) -> bytes:
        return json.dumps(self.payload(request_id), separators=(",", ":")).encode()


def bad_request(code: str, message: str, param: str | None = None) -> ApiError:
    """A 400 ``invalid_request`` (the common validation failure)."""
    return ApiError(400, code, message, param=param)


def not_found(what: str, param: str | None = None) -> ApiError:
    """A 404 ``resource_not_found``; it never says whether the thing exists for someone else."""
    return ApiError(404, "resource_not_found", f"{what} not found.", param=param)
