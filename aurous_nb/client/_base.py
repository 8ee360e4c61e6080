"""What the sync and async clients share beside their driver loops: settings, the key, headers,
request building, the part-file name an output streams into, with_options, repr."""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import httpx

from aurous_nb.client._core import (
    DEFAULT_BASE_URL,
    Core,
    RateLimit,
    RateLimiter,
    Request,
    RetryPolicy,
    _caller_level,
    check_version,
)
from aurous_nb.client._params import check_float
from aurous_nb.client._uploads import UploadCache
from aurous_nb.client.errors import AuthenticationError, InsecureURLWarning, ValidationError
from aurous_nb.secret import Secret, mask, redact

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover
    from typing_extensions import Self

_USER_AGENT = "aurous-nb/0.1.0"

#: The httpx client a transport drives: ``httpx.Client`` (sync) or ``httpx.AsyncClient``.
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)


class RedactSecrets(logging.Filter):
    """httpx logs every request URL at INFO: signed output URLs carry a token, and a URL may
    carry a key; hide both (aurous_nb.secret.redact)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        return True


def _redacted(arg: object) -> object:
    """``arg`` unchanged, or its text redacted when that hides something (an httpx.URL)."""
    if isinstance(arg, (int, float)):
        return arg
    text = str(arg)
    clean = redact(text)
    return arg if clean == text else clean


def _install_filter() -> None:
    log = logging.getLogger("httpx")
    if not any(isinstance(f, RedactSecrets) for f in log.filters):
        log.addFilter(RedactSecrets())


_install_filter()


def resolve_key(api_key: str | Secret | None) -> Secret:
    if isinstance(api_key, Secret):
        return api_key
    key = api_key if api_key is not None else os.environ.get("AUROUS_API_KEY")
    if not key or not key.strip():
        raise AuthenticationError(
            "No API key: pass api_key=... or set the AUROUS_API_KEY environment variable.",
            code="missing_api_key",
        )
    return Secret(key.strip())


def resolve_core(
    base_url: str | None,
    version: str | None,
    timeout: float,
    max_retries: int,
    retry_budget: float,
    retry: RetryPolicy | None,
) -> Core:
    url = (base_url or os.environ.get("AUROUS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValidationError(
            "base_url", f"base_url: must start with http:// or https:// ({url!r})"
        )
    warn_if_insecure(url)
    check_float("timeout", timeout, 0, above=True)
    check_float("retry_budget", retry_budget, 0)
    if max_retries < 0:
        raise ValidationError("max_retries", "max_retries: must be 0 or more")
    # An explicit ``retry`` policy wins, except for max_retries / retry_budget given with
    # non-default values.
    policy = retry or RetryPolicy()
    defaults = RetryPolicy()
    if retry is None or max_retries != defaults.max_retries:
        policy = replace(policy, max_retries=max_retries)
    if retry is None or retry_budget != defaults.budget:
        policy = replace(policy, budget=retry_budget)
    return Core(
        base_url=url,
        version=check_version(version or os.environ.get("AUROUS_VERSION") or None),
        timeout=timeout,
        retry=policy,
        limiter=RateLimiter(),
    )


_LOCAL_HOSTS = frozenset({"localhost", "::1", "0.0.0.0"})
_warned_hosts: set[str] = set()


def warn_if_insecure(url: str) -> None:
    """An :class:`InsecureURLWarning`, once per host, for plain http off this machine."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or host in _LOCAL_HOSTS or host.startswith("127."):
        return
    if host in _warned_hosts:
        return
    _warned_hosts.add(host)
    warnings.warn(
        f"base_url http://{host} is plain http to "
        "another host: the API key and every answer cross the network unencrypted, and anyone "
        "on the way can read or change them. Use https://.",
        InsecureURLWarning,
        stacklevel=_caller_level(),
    )


def open_http(factory: type[HttpT], timeout: float) -> HttpT:
    """The httpx client a client opens for itself."""
    return factory(
        timeout=timeout, follow_redirects=False, limits=httpx.Limits(max_connections=100)
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port: what must match the base URL for a request to carry the key."""
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)


class ClientBase(Generic[HttpT]):
    """Settings, headers, request building and introspection of a client over ``HttpT``;
    subclasses add the driver loop and the I/O that must be awaited or not."""

    _core: Core
    _key: Secret
    _home: tuple[str, str, int | None]
    _http: HttpT
    _owns_http: bool
    _timeout: httpx.Timeout
    _sleep: Callable[[float], object]

    def _connect(
        self,
        factory: type[HttpT],
        http_client: HttpT | None,
        api_key: str | Secret | None,
        base_url: str | None,
        version: str | None,
        timeout: float,
        max_retries: int,
        retry_budget: float,
        retry: RetryPolicy | None,
    ) -> None:
        key = resolve_key(api_key)
        self._setup(key, resolve_core(base_url, version, timeout, max_retries, retry_budget, retry))
        self._owns_http = http_client is None
        self._http = http_client or open_http(factory, timeout)
        self._timeout = httpx.Timeout(timeout)

    def _build(self, req: Request) -> httpx.Request:
        return self._authorize(
            req,
            self._http.build_request(
                req.method,
                req.url,
                params=req.params,
                content=req.body,
                files=req.files,
                data=req.data,
                headers=self._headers(req),
                timeout=self._timeout if req.timeout is None else req.timeout,
            ),
        )

    def _authorize(self, req: Request, built: httpx.Request) -> httpx.Request:
        """Add the key last, to the URL httpx will really send to, and only if that URL is on
        the base URL's origin: an absolute URL, a redirect or an output host never gets it."""
        if req.auth and origin(built.url) == self._home:
            built.headers["X-Api-Key"] = self._key.reveal()
        return built

    def with_options(
        self,
        *,
        version: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        retry_budget: float | None = None,
    ) -> Self:
        """A variant sharing this client's connections and rate-limit state."""
        other = object.__new__(type(self))
        other._setup(self._key, self._derive_core(version, timeout, max_retries, retry_budget))
        other._http = self._http
        other._owns_http = False
        other._timeout = httpx.Timeout(other._core.timeout)
        other._sleep = self._sleep
        return other

    @classmethod
    def _twin_of(
        cls, client: ClientBase[Any], factory: type[HttpT], sleep: Callable[[float], Any]
    ) -> Self:
        """A client of this kind with ``client``'s key, settings and rate-limit state, and
        connections of its own (the other kind's cannot be driven here)."""
        other = object.__new__(cls)
        other._setup(client._key, client._core)
        other._owns_http = True
        other._http = open_http(factory, client._core.timeout)
        other._timeout = httpx.Timeout(client._core.timeout)
        other._sleep = sleep
        return other

    def _setup(self, key: Secret, core: Core) -> None:
        self._key = key
        self._core = core
        common = {"User-Agent": _USER_AGENT, "Accept": "application/json"}
        if core.version:
            common["Aurous-Version"] = core.version
        self._anon_headers = {"User-Agent": _USER_AGENT}
        self._auth_headers = common  # the key itself is added per request, by _authorize
        self._home = origin(httpx.URL(core.base_url))

    def _headers(self, req: Request) -> dict[str, str]:
        base = self._auth_headers if req.auth else self._anon_headers
        if (
            req.version is None
            and req.idempotency_key is None
            and req.body is None
            and req.headers is None
        ):
            return base
        out = dict(base)
        if req.headers:
            out.update(req.headers)
        if req.version is not None and req.auth:
            out["Aurous-Version"] = req.version
        if req.idempotency_key is not None:
            out["Idempotency-Key"] = req.idempotency_key
        if req.body is not None:  # JSON unless the request says (an upload PUT)
            out.setdefault("Content-Type", "application/json")
        return out

    def _derive_core(
        self,
        version: str | None,
        timeout: float | None,
        max_retries: int | None,
        retry_budget: float | None,
    ) -> Core:
        core = self._core
        policy = core.retry
        if timeout is not None:
            check_float("timeout", timeout, 0, above=True)
        if retry_budget is not None:
            check_float("retry_budget", retry_budget, 0)
        if max_retries is not None or retry_budget is not None:
            policy = replace(
                policy,
                max_retries=policy.max_retries if max_retries is None else max_retries,
                budget=policy.budget if retry_budget is None else retry_budget,
            )
        return replace(
            core,
            version=check_version(version) if version is not None else core.version,
            timeout=timeout if timeout is not None else core.timeout,
            retry=policy,
        )

    @property
    def base_url(self) -> str:
        return self._core.base_url

    @property
    def version(self) -> str | None:
        """The pinned Aurous-Version (None: the team's default applies)."""
        return self._core.version

    @property
    def timeout(self) -> float:
        return self._core.timeout

    @property
    def max_retries(self) -> int:
        return self._core.retry.max_retries

    @property
    def api_key_preview(self) -> str:
        return mask(self._key.reveal())

    @property
    def uploads(self) -> UploadCache:
        """Where uploaded reference files are remembered (``client.references``): this
        client's memory, or the ledger's table when a notebook session lends it."""
        return self._core.uploads

    @uploads.setter
    def uploads(self, cache: UploadCache) -> None:
        self._core.uploads = cache

    @property
    def rate_limits(self) -> dict[str, RateLimit]:
        """Bucket name -> last reported state (limit, remaining, reset as epoch seconds)."""
        return self._core.limiter.snapshot()

    def __repr__(self) -> str:
        version = f" version={self._core.version}" if self._core.version else ""
        return (
            f"<{type(self).__name__} base_url={self._core.base_url!r} "
            f"api_key={self.api_key_preview!r}{version}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} is not picklable (it holds the API key)")
