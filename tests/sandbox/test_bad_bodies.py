"""Request bodies as a real API takes them: JSON at most 1 MiB and uploads at most 16 MiB
(413 ``request_too_large``, read as a stream, so memory stays bounded), and JSON only in UTF-8
(400 ``invalid_format``). Raw httpx against a sandbox in its own process, whose peak memory
(``VmHWM``) is the witness.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aurous_nb.sandbox import openapi

MiB = 1 << 20
SERVER = textwrap.dedent(
    """
    import json, sys
    from aurous_nb.sandbox import Sandbox
    sb = Sandbox(latency=0.05, credits=1000).start()
    print(json.dumps({"url": sb.base_url, "key": sb.api_key}), flush=True)
    sys.stdin.read()
    """
)


class Server:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.url: str = info["url"]
        self.http = httpx.Client(base_url=self.url, headers={"X-Api-Key": info["key"]}, timeout=60)

    def peak_mib(self) -> float:
        """The sandbox process's peak resident memory so far."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM")

    def generations(self) -> int:
        return int(self.http.get("/_sandbox/ledger").json()["totals"]["generation_count"])

    def close(self) -> None:
        self.http.close()
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def error(r: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = r.json()["error"]
    return body


def padded_json(total: int) -> Iterator[bytes]:
    """A valid JSON object of about ``total`` bytes, made as it is sent (never held whole)."""
    yield b'{"prompt": "a red fox", "negative_prompt": "'
    sent = 0
    while sent < total:
        yield b"a" * MiB
        sent += MiB
    yield b'"}'


def test_a_json_body_over_1_mib_is_413(server: Server) -> None:
    body = b"".join(padded_json(2 * MiB))
    r = server.http.post(
        "/v1/images/estimate", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text
    assert error(r)["code"] == "request_too_large" and error(r)["type"] == "invalid_request"
    assert "1 MiB" in error(r)["message"]
    ok = server.http.post("/v1/images/estimate", json={"prompt": "a red fox"})
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_200_mb_is_refused_as_a_stream_with_bounded_memory(server: Server, declared: bool) -> None:
    before = server.peak_mib()
    headers = {"Content-Type": "application/json", "Idempotency-Key": f"big-{declared}"}
    if declared:
        headers["Content-Length"] = str(len(b"".join(padded_json(0))) + 200 * MiB)
    r = server.http.post("/v1/images", content=padded_json(200 * MiB), headers=headers)
    grown = server.peak_mib() - before
    assert grown < 32, f"the sandbox's peak memory grew {grown:.0f} MiB ({r.status_code})"
    assert r.status_code == 413, r.text
    assert error(r)["code"] == "request_too_large"
    assert server.generations() == 0
    assert server.http.get("/v1/balance").status_code == 200


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
def test_json_must_be_utf8(server: Server, encoding: str) -> None:
    body = json.dumps({"prompt": "a red fox"}).encode(encoding)
    r = server.http.post("/v1/images", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert error(r)["code"] == "invalid_format" and "UTF-8" in error(r)["message"]
    assert server.generations() == 0


def test_a_declared_charset_other_than_utf8_is_refused(server: Server) -> None:
    r = server.http.post(
        "/v1/images/estimate",
        content=json.dumps({"prompt": "a red fox"}).encode(),
        headers={"Content-Type": "application/json; charset=latin-1"},
    )
    assert r.status_code == 400 and error(r)["code"] == "invalid_format", r.text
    fine = server.http.post(
        "/v1/images/estimate",
        content=json.dumps({"prompt": "a red fox é"}).encode(),
        headers={"Content-Type": "application/json; charset=UTF-8"},
    )
    assert fine.status_code == 200, fine.text


def test_an_upload_over_16_mib_is_413_and_memory_stays_bounded(server: Server) -> None:
    before = server.peak_mib()
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (40 * MiB)
    r = server.http.post(
        "/v1/files", files={"file": ("big.png", big, "image/png")}, data={"purpose": "reference"}
    )
    grown = server.peak_mib() - before
    assert grown < 32, f"the sandbox's peak memory grew {grown:.0f} MiB ({r.status_code})"
    assert r.status_code == 413, r.text
    assert error(r)["code"] == "request_too_large" and "16 MiB" in error(r)["message"]


def test_the_spec_states_the_limits() -> None:
    spec = openapi.spec()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                assert "413" in op["responses"], (method, path)
                uploads = {"multipart/form-data", "image/png"}  # files, character uploads
                limit = "16 MiB" if uploads & set(op["requestBody"]["content"]) else "1 MiB"
                assert limit in op["requestBody"]["description"], (method, path)
