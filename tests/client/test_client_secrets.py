"""The key never shows: reprs, errors, tracebacks, logs; tokens stay out of messages."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import traceback

import pytest

from aurous_nb.client import AsyncClient, Client, NotFoundError
from aurous_nb.sandbox import Sandbox


def test_repr_masks_the_key(sandbox: Sandbox) -> None:
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url) as c:
        text = repr(c)
        assert text == f"<Client base_url='{sandbox.base_url}' api_key='al_live_…'>"
        assert sandbox.api_key not in text
        pinned = c.with_options(version="2026-05-15", timeout=5)
        assert sandbox.api_key not in repr(pinned) and "version=2026-05-15" in repr(pinned)
        assert pinned.timeout == 5 and c.timeout == 60
        assert sandbox.api_key not in repr(c._key) and sandbox.api_key not in str(c._key)
        with pytest.raises(TypeError):
            pickle.dumps(c)
    a = AsyncClient(api_key=sandbox.api_key, base_url=sandbox.base_url)
    assert sandbox.api_key not in repr(a) and repr(a).startswith("<AsyncClient ")


def test_traceback_locals_never_hold_the_key(sandbox: Sandbox) -> None:
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url) as c:
        with pytest.raises(NotFoundError) as info:
            c.images.get("img_missing")
        tb = info.value.__traceback__
        seen = 0
        for frame, _ in traceback.walk_tb(tb):
            if "aurous_nb" not in frame.f_code.co_filename:
                continue
            for name, value in frame.f_locals.items():
                seen += 1
                assert sandbox.api_key not in repr(value), name
        assert seen > 5
        assert sandbox.api_key not in "".join(traceback.format_exception(info.value))


def test_download_logs_and_errors_carry_no_token(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with Client(api_key=sandbox.api_key, base_url=sandbox.base_url) as c:
        gen = c.images.wait(c.images.create("logged"), poll_interval=0.05)
        token = gen.output_urls[0].split("token=")[1]
        with caplog.at_level(logging.DEBUG):
            c.images.download(gen)
        assert caplog.records and token not in caplog.text
        assert sandbox.api_key not in caplog.text
        assert token not in repr(gen)


def test_import_is_light() -> None:
    code = (
        "import sys, aurous_nb, aurous_nb.client, aurous_nb.webhooks\n"
        "from aurous_nb import Client, AsyncClient, AurousError, webhooks\n"
        "import aurous_nb as a\n"
        "[getattr(a, n) for n, m in a._LAZY.items() if m.startswith(('aurous_nb.client',\n"
        "                                                             'aurous_nb.webhooks'))]\n"
        "heavy = ('pandas', 'matplotlib', 'ipywidgets', 'PIL', 'starlette', 'uvicorn',\n"
        "         'IPython', 'numpy', 'asyncio')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
