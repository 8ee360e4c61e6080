"""How much of an answer is read, and for how long: one set of rules for both drivers.

httpx bounds each network read by the timeout, not the exchange: a server dripping one byte a
second holds a call forever, and a body without Content-Length is read whole into memory. So
both drivers read every answer as a stream and hand each chunk to a :class:`Reading`, which
counts it against a size cap (decoded bytes, so a gzip bomb counts what it inflates to) and
the clock against a deadline, and keeps the bytes or writes them to the part-file.

* an API answer (JSON): at most :data:`MAX_ANSWER_BYTES`, within the request's timeout;
* an output file: at most :data:`MAX_OUTPUT_BYTES`, within the timeout plus one second per
  :data:`MIN_OUTPUT_RATE` bytes received (a slow link still finishes; a drip does not).

A broken limit becomes a :class:`TransportFault` for the flow: a late answer a timeout (retried
like any), an oversized or undecodable one ``invalid`` (never retried).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import httpx

from aurous_nb.client._core import Request, Response, TransportFault, classify, header_dict
from aurous_nb.client._parts import part_path

__all__ = [
    "FAULTS",
    "MAX_ANSWER_BYTES",
    "MAX_OUTPUT_BYTES",
    "MIN_OUTPUT_RATE",
    "Overrun",
    "Reading",
    "fault",
]

MAX_ANSWER_BYTES = 16 * 1024 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024 * 1024
MIN_OUTPUT_RATE = 64 * 1024  # bytes per second an output download is granted beyond the timeout


class Overrun(Exception):
    """An answer broke a limit; ``fault`` is what the flow is told."""

    def __init__(self, fault: TransportFault) -> None:
        super().__init__(fault.message)
        self.fault = fault


def _too_large(limit: int) -> Overrun:
    return Overrun(
        TransportFault(
            f"the answer is over {limit >> 20} MiB", delivered=True, timeout=False, invalid=True
        )
    )


class Reading:
    """One answer being read: ``with Reading(...) as r: for chunk in body: r.feed(chunk)``,
    then ``r.response``. A 2xx answer to a ``stream_to`` request goes into a part-file renamed
    into place only when complete (and removed otherwise)."""

    __slots__ = (
        "_clock",
        "_deadline",
        "_limit",
        "_part",
        "_parts",
        "_rate",
        "_sink",
        "_size",
        "_target",
        "_timeout",
        "headers",
        "status",
    )

    def __init__(self, req: Request, r: httpx.Response, started: float, timeout: float) -> None:
        self._clock = time.monotonic
        self._deadline = started + timeout
        self._timeout = timeout
        self.status = r.status_code
        output = req.output and self.status < 300  # an error page is an answer, not an output
        self._limit = MAX_OUTPUT_BYTES if output else MAX_ANSWER_BYTES
        self._rate = MIN_OUTPUT_RATE if output else 0
        self._size = 0
        self._parts: list[bytes] = []
        self._sink: BinaryIO | None = None
        self.headers = header_dict(r.headers.raw)
        declared = self.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._limit:
            raise _too_large(self._limit)
        self._target = Path(req.stream_to) if req.stream_to and self.status < 300 else None
        self._part = part_path(self._target) if self._target is not None else None

    def __enter__(self) -> Reading:
        if self._part is not None:
            self._sink = open(self._part, "wb")
        return self

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            raise _too_large(self._limit)
        allowed = self._deadline + (self._size / self._rate if self._rate else 0.0)
        if self._clock() > allowed:
            raise Overrun(
                TransportFault(
                    f"the answer was still arriving after the {self._timeout:g} s timeout",
                    delivered=True,
                    timeout=True,
                )
            )
        if self._sink is not None:
            self._sink.write(chunk)
        else:
            self._parts.append(chunk)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sink is None or self._part is None or self._target is None:
            return
        self._sink.close()
        try:
            if exc_type is None:
                os.replace(self._part, self._target)
        finally:
            self._part.unlink(missing_ok=True)

    @property
    def response(self) -> Response:
        parts = self._parts
        content = parts[0] if len(parts) == 1 else b"".join(parts)
        return Response(self.status, self.headers, content)


#: What a driver turns into a TransportFault with :func:`fault`.
FAULTS = (httpx.TransportError, httpx.DecodingError, httpx.InvalidURL, Overrun)


def fault(exc: Exception) -> TransportFault:
    """The fault a driver hands the flow for one of :data:`FAULTS`."""
    if isinstance(exc, Overrun):
        return exc.fault
    if isinstance(exc, httpx.DecodingError):
        return TransportFault(f"the answer's encoding is broken ({exc})", True, False, True)
    if isinstance(exc, httpx.InvalidURL):
        return TransportFault(f"not a URL that can be requested ({exc})", False, False, True)
    return classify(exc)
