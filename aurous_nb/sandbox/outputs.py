"""Signed output tokens (so ``<img>`` tags need no key) and ``Range`` header parsing."""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import time

from aurous_nb.sandbox.errors import ApiError


class Signer:
    """HMAC tokens over (kind, id, index, expiry) with a secret that dies with the sandbox.

    A token is ``<expiry>.<nonce>.<hex>``; the nonce makes every minted URL fresh.
    """

    def __init__(self) -> None:
        self._secret = os.urandom(32)

    def _mac(self, kind: str, id: str, index: str, expiry: int, nonce: str) -> str:
        msg = f"{kind}:{id}:{index}:{expiry}:{nonce}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def mint(self, kind: str, id: str, index: str, expiry: float) -> str:
        nonce = os.urandom(6).hex()
        exp = math.ceil(expiry)
        return f"{exp}.{nonce}.{self._mac(kind, id, index, exp, nonce)}"

    def check(self, token: str, kind: str, id: str, index: str) -> int:
        """The token's expiry (epoch seconds); 401 when it was not minted for this output."""
        try:
            exp_text, nonce, mac = token.split(".")
            exp = int(exp_text)
        except ValueError:
            raise _bad_token() from None
        if not hmac.compare_digest(mac, self._mac(kind, id, index, exp, nonce)):
            raise _bad_token()
        return exp


def _bad_token() -> ApiError:
    return ApiError(
        401, "invalid_api_key", "The signed output token is not valid for this URL.", param="token"
    )


def expired(expiry: float) -> bool:
    return time.time() >= expiry


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """``bytes=a-b`` / ``a-`` / ``-n`` -> inclusive (start, end); None for a header to ignore.

    Raises 416 when the range cannot be satisfied.
    """
    if not header.startswith("bytes=") or "," in header:
        return None
    spec = header[len("bytes=") :].strip()
    start_text, _, end_text = spec.partition("-")
    try:
        if start_text == "":
            suffix = int(end_text)
            if suffix <= 0:
                raise _unsatisfiable(size)
            return max(0, size - suffix), size - 1
        start = int(start_text)
        end = int(end_text) if end_text else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _unsatisfiable(size: int) -> ApiError:
    return ApiError(
        416,
        "value_out_of_range",
        "The requested byte range is outside the video.",
        param="Range",
        headers={"Content-Range": f"bytes */{size}"},
    )
