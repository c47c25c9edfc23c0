"""The one HTTP client: limits, timeouts, size caps, robots.txt, retries and the URL guard.

Every feed poll and page fetch goes through :class:`HttpClient` (one per event loop). It is
polite (per-host concurrency and minimum delay, robots.txt, an identifying User-Agent) and
defensive: a feed is untrusted input, so each URL and each redirect hop passes
:func:`check_url`, bodies are capped while streaming (after decompression too) and every
attempt has a total deadline.

The guard holds for the connection actually made (no DNS-rebinding window): the client's
httpcore connection pool dials through :class:`GuardedBackend`, an httpcore network backend
that resolves the host once (the client's DNS cache, shared with :meth:`HttpClient.check`),
vets every address and connects to a vetted one. httpcore keeps the URL's host name for TLS
SNI and httpx for the Host header, so only the TCP destination is pinned.
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import ipaddress
import logging
import random
import re
import socket
import time
import urllib.robotparser
import zlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import charset_normalizer
import httpcore
import httpx

from regionwatch.errors import (
    BlockedURLError,
    FetchError,
    PermanentFetchError,
    TransientFetchError,
)
from regionwatch.settings import HttpConfig

__all__ = [
    "FetchResult",
    "GuardedBackend",
    "HttpClient",
    "Resolver",
    "check_url",
    "decode_bytes",
    "fetch_sync",
]

LOGGER = logging.getLogger(__name__)

#: Statuses worth retrying (RFC 9110 semantics plus 429 Too Many Requests).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 520, 521, 522, 523, 524})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ALLOWED_SCHEMES = ("http", "https")
#: Host names that always mean "cloud metadata" or "this machine", whatever DNS says.
BLOCKED_HOSTNAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
ROBOTS_MAX_BYTES = 512_000
ROBOTS_TTL = 3600.0
DNS_TTL = 300.0
#: After a host name fails to resolve, further requests to it fail at once for this long.
DNS_FAILURE_TTL = 60.0
#: Content codings we decode ourselves (so the size cap applies to decoded bytes).
ACCEPT_ENCODING = "gzip, deflate"
_META_CHARSET_RE = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)
_XML_ENCODING_RE = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9_.:-]+)["']""")
_CHARSET_PARAM_RE = re.compile(r"""charset\s*=\s*["']?([^"';,\s]+)""", re.IGNORECASE)
#: WHATWG encoding aliases: labels that browsers decode with a superset codec.
_ENCODING_SUPERSETS = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "l1": "cp1252",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
}
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(slots=True)
class FetchResult:
    """One fetched resource (after redirects)."""

    url: str
    status: int
    headers: dict[str, str]
    content: bytes
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False
    elapsed: float = 0.0
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str | None:
        """The Content-Type header, if any."""
        return self.headers.get("content-type")

    def text(self) -> str:
        """The body decoded: charset from header, BOM, meta tag, then detection."""
        return decode_bytes(self.content, self.content_type)


# --------------------------------------------------------------------------------------------
# charsets
# --------------------------------------------------------------------------------------------
def _codec(label: str | bytes | None) -> str | None:
    """A Python codec name for an encoding label, or None when unknown."""
    if not label:
        return None
    name = label.decode("ascii", "ignore") if isinstance(label, bytes) else label
    name = name.strip().strip("\"'").lower()
    name = _ENCODING_SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def charset_from_content_type(content_type: str | None) -> str | None:
    """The codec named by a Content-Type ``charset`` parameter, if valid."""
    if not content_type:
        return None
    m = _CHARSET_PARAM_RE.search(content_type)
    return _codec(m.group(1)) if m else None


def sniff_bom(content: bytes) -> str | None:
    """The codec implied by a byte-order mark, if any."""
    for bom, name in _BOMS:
        if content.startswith(bom):
            return name
    return None


def decode_bytes(content: bytes, content_type: str | None) -> str:
    """Decode a body to text.

    Order: byte-order mark (unambiguous, wins as in browsers), the HTTP ``charset``, a
    ``<meta charset>`` / http-equiv tag or XML declaration in the first 4 KB, strict UTF-8,
    then charset-normalizer detection; undecodable bytes become U+FFFD.

    Args:
        content: the raw (already content-decoded) body.
        content_type: the Content-Type header, or None.

    Returns:
        The decoded text.
    """
    if not content:
        return ""
    bom = sniff_bom(content)
    if bom:
        return content.decode(bom, errors="replace")
    for codec in (charset_from_content_type(content_type), _declared_charset(content)):
        if codec:
            wide = codec.startswith(("utf_16", "utf_32", "utf-16", "utf-32"))
            if wide and b"\x00" not in content[:200]:
                continue  # a page that says utf-16 but is plainly 8-bit: declaration is wrong
            try:
                return content.decode(codec)
            except UnicodeDecodeError:
                LOGGER.debug("declared charset %s does not fit the bytes", codec)
                if codec not in ("utf_8", "utf-8"):
                    return content.decode(codec, errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(content[:200_000]).best()
    if best is not None and best.encoding:
        return content.decode(best.encoding, errors="replace")
    return content.decode("utf-8", errors="replace")


def _declared_charset(content: bytes) -> str | None:
    head = content[:4096]
    m = _XML_ENCODING_RE.match(head) or _META_CHARSET_RE.search(head)
    return _codec(m.group(1)) if m else None


# --------------------------------------------------------------------------------------------
# URL guard
# --------------------------------------------------------------------------------------------
def _ip_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return _ip_blocked(mapped)
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or not ip.is_global
    )


def _parse_guarded(url: str) -> tuple[str, str, int]:
    """Check scheme and host syntax; returns (scheme, host, port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedURLError(f"malformed URL: {exc}", url=url) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedURLError(f"scheme {scheme or '(none)'!r} not allowed", url=url)
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BlockedURLError("URL has no host", url=url)
    return scheme, host, port or (443 if scheme == "https" else 80)


#: Host spellings the C resolver reads as an IPv4 address (inet_aton): decimal ``2130706433``,
#: octal ``0177.0.0.1``, hex ``0x7f.1``, short forms ``127.1``.
_NUMERIC_HOST_RE = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host spelling denotes without DNS (any inet_aton form too), else None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST_RE.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _check_host_literal(host: str, url: str) -> bool:
    """Refuse blocked names and literal addresses; True when host was an IP literal."""
    if host in BLOCKED_HOSTNAMES or host.endswith((".localhost", ".internal", ".local")):
        raise BlockedURLError(f"host {host!r} is internal", url=url)
    ip = _ip_literal(host)
    if ip is None:
        return False
    if _ip_blocked(ip):
        raise BlockedURLError(f"address {ip} is not public", url=url)
    return True


def _check_addresses(
    host: str, addresses: Iterable[str], url: str, *, strict: bool = False
) -> None:
    """Refuse when any address is not public (``strict``: also one that is not an address)."""
    for addr in addresses:
        try:
            ip = ipaddress.ip_address(addr.split("%", 1)[0])
        except ValueError:
            if strict:
                raise BlockedURLError(f"host {host!r} resolves to {addr!r}", url=url) from None
            continue
        if _ip_blocked(ip):
            raise BlockedURLError(f"host {host!r} resolves to non-public address {ip}", url=url)


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse URLs a feed must not make us fetch.

    Only http(s) is allowed. Unless ``allow_private`` is set, loopback, private, link-local,
    metadata, multicast, reserved and unspecified addresses are refused, including host names
    that resolve to one. A name that does not resolve is left to the fetch (it fails there).

    Args:
        url: the absolute URL to check.
        allow_private: allow any address (``[http] allow_private_networks``).

    Raises:
        BlockedURLError: the URL is refused.
    """
    scheme, host, port = _parse_guarded(url)
    if allow_private or _check_host_literal(host, url):
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        LOGGER.debug("cannot resolve %s: %s", host, exc)
        return
    _check_addresses(host, (str(i[4][0]) for i in infos), url)


#: ``resolver(host, port)`` → the host's addresses (strings); raises OSError when it does not
#: resolve. The default asks the system resolver (``loop.getaddrinfo``).
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for ``host`` (TCP), in its order."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(i[4][0]) for i in infos]


class _DnsCache:
    """One resolution per host and port for ``ttl`` seconds, shared by the check and the dial."""

    def __init__(self, resolver: Resolver, ttl: float) -> None:
        self.resolver = resolver
        self.ttl = ttl
        self._cache: dict[tuple[str, int], tuple[float, list[str] | None, BaseException | None]]
        self._cache = {}

    async def lookup(self, host: str, port: int) -> list[str]:
        """The addresses of ``host``: an IP literal (any spelling) as is, else resolved.

        Raises:
            OSError: the name does not resolve (also while its failure is cached).
        """
        literal = _ip_literal(host)
        if literal is not None:
            return [str(literal)]
        key = (host, port)
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            if cached[1] is None:
                assert cached[2] is not None
                raise OSError(str(cached[2])) from cached[2]
            return cached[1]
        try:
            addrs = await self.resolver(host, port)
            if not addrs:
                raise socket.gaierror(socket.EAI_NONAME, "no address")
        except (OSError, UnicodeError) as exc:
            LOGGER.debug("cannot resolve %s: %s", host, exc)
            self._cache[key] = (now + min(self.ttl, DNS_FAILURE_TTL), None, exc)
            if isinstance(exc, OSError):
                raise
            raise socket.gaierror(socket.EAI_NONAME, str(exc)) from exc
        self._cache[key] = (now + self.ttl, addrs, None)
        return addrs


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that dials only vetted addresses.

    ``connect_tcp(host, port)`` resolves ``host`` through the client's DNS cache (the answer
    :meth:`HttpClient.check` vetted, while it is fresh), refuses the connection with
    :class:`BlockedURLError` when any address is not public (unless private networks are
    allowed), and connects to the addresses in turn. httpcore still does TLS with the URL's
    host name (SNI, certificate check), and httpx sends it as the Host header.
    """

    def __init__(
        self,
        dns: _DnsCache,
        *,
        allow_private: bool,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        """Create the backend.

        Args:
            dns: the client's DNS cache.
            allow_private: dial any address (``[http] allow_private_networks``).
            inner: the backend that makes the connections (default: httpcore's own).
        """
        self.dns = dns
        self.allow_private = allow_private
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve, vet every address, connect to the first vetted one that answers."""
        where = f"{host}:{port}"
        if not self.allow_private:
            _check_host_literal(host.lower().rstrip("."), where)
        try:
            addrs = await self.dns.lookup(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        if not self.allow_private:
            _check_addresses(host, addrs, where, strict=True)
        last: Exception | None = None
        for addr in dict.fromkeys(a.split("%", 1)[0] for a in addrs):
            try:
                return await self.inner.connect_tcp(
                    addr,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: fetches go to TCP hosts only."""
        raise httpcore.ConnectError("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retry pauses)."""
        await self.inner.sleep(seconds)


def _guarded_transport(
    cfg: HttpConfig, dns: _DnsCache, inner: httpcore.AsyncNetworkBackend | None
) -> httpx.AsyncHTTPTransport:
    """httpx's own transport whose connection pool dials through :class:`GuardedBackend`.

    httpx has no public parameter for the network backend, so its pool (``_pool``, the one
    attribute its request handling uses) is rebuilt with the same settings plus the backend;
    tests/integration/test_http.py pins this against httpx upgrades.
    """
    limits = httpx.Limits(
        max_connections=cfg.max_connections,
        max_keepalive_connections=min(cfg.max_connections, 32),
    )
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedBackend(dns, allow_private=cfg.allow_private_networks, inner=inner),
    )
    return transport


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def _caused_by_dns(exc: BaseException) -> bool:
    """Whether an exception chain contains a name-resolution failure."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 10:
        if isinstance(cur, socket.gaierror):
            return True
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return False


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.netloc or '').lower()}"


class _BodyDecoder:
    """Content-Encoding decoder that never expands past ``limit`` bytes (bomb-proof)."""

    def __init__(self, encoding: str, limit: int, url: str) -> None:
        self.limit = limit
        self.url = url
        self.size = 0
        self.parts: list[bytes] = []
        enc = encoding.strip().lower()
        self._z: Any = None
        self._deflate_raw_retry = False
        if enc in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif enc == "deflate":
            self._z = zlib.decompressobj()
            self._deflate_raw_retry = True
        elif enc not in ("", "identity"):
            raise PermanentFetchError(f"unsupported Content-Encoding {encoding!r}", url=url)

    def _add(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self.limit:
            raise PermanentFetchError(f"body exceeds {self.limit} bytes (decoded)", url=self.url)
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self._z is None:
            self._add(chunk)
            return
        data = chunk
        while data:
            try:
                out = self._z.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                if self._deflate_raw_retry and self.size == 0:
                    # servers that send raw deflate without the zlib header
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._deflate_raw_retry = False
                    continue
                raise PermanentFetchError(f"corrupt compressed body: {exc}", url=self.url) from exc
            self._deflate_raw_retry = False
            self._add(out)
            data = self._z.unconsumed_tail
            if self._z.eof:
                break

    def finish(self) -> bytes:
        if self._z is not None:
            try:
                self._add(self._z.flush())
            except zlib.error as exc:
                raise PermanentFetchError(f"corrupt compressed body: {exc}", url=self.url) from exc
        return b"".join(self.parts)


class _HostState:
    __slots__ = ("lock", "next_at", "sem")

    def __init__(self, concurrency: int) -> None:
        self.sem = asyncio.Semaphore(concurrency)
        self.lock = asyncio.Lock()
        self.next_at = 0.0


class _NoRetry(Exception):  # noqa: N818 - internal marker wrapper
    """Wraps a transient error that must not be retried inside this call."""

    def __init__(self, err: FetchError) -> None:
        super().__init__(str(err))
        self.err = err


# --------------------------------------------------------------------------------------------
# the client
# --------------------------------------------------------------------------------------------
class HttpClient:
    """Async HTTP client shared by all fetches of one event loop.

    Use as ``async with HttpClient(cfg) as client: res = await client.fetch(url)``.
    """

    def __init__(
        self,
        cfg: HttpConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver | None = None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        dns_ttl: float = DNS_TTL,
    ) -> None:
        """Create the client.

        Args:
            cfg: the ``[http]`` settings.
            transport: an httpx transport replacing the guarded one (tests with MockTransport;
                the URL guard then checks names before the request only).
            resolver: the name resolver (default: the system's).
            network_backend: the httpcore backend that opens the vetted connections (default:
                httpcore's own).
            dns_ttl: how long one resolution of a host serves the check and the dial.
        """
        self.cfg = cfg
        self._dns_cache = _DnsCache(resolver or system_resolver, dns_ttl)
        if transport is None:
            transport = _guarded_transport(cfg, self._dns_cache, network_backend)
        timeout = httpx.Timeout(
            connect=cfg.connect_timeout,
            read=cfg.read_timeout,
            write=cfg.read_timeout,
            pool=cfg.total_timeout,
        )
        self._client = httpx.AsyncClient(
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=cfg.max_connections,
                max_keepalive_connections=min(cfg.max_connections, 32),
            ),
            follow_redirects=False,
            headers={"User-Agent": cfg.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            trust_env=False,
            transport=transport,
        )
        self._global = asyncio.Semaphore(cfg.max_connections)
        self._hosts: dict[str, _HostState] = {}
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None]] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._unresolved: dict[str, float] = {}
        self.stats: dict[str, int] = {"requests": 0, "retries": 0, "not_modified": 0}

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close connections."""
        await self._client.aclose()

    # ---- guard ----------------------------------------------------------------------------
    async def check(self, url: str) -> None:
        """Async :func:`check_url` with a per-client DNS cache.

        Raises:
            BlockedURLError: the URL is refused.
            TransientFetchError: the host name does not resolve.
        """
        scheme, host, port = _parse_guarded(url)
        if self.cfg.allow_private_networks or _check_host_literal(host, url):
            return
        try:  # the name exactly as httpcore will dial it (IDNA), so one cache entry serves both
            dial_host = httpx.URL(url).raw_host.decode("ascii").lower()
        except (httpx.InvalidURL, UnicodeError) as exc:
            raise BlockedURLError(f"malformed URL: {exc}", url=url) from exc
        try:
            addrs = await self._dns_cache.lookup(dial_host, port)
        except OSError as exc:
            raise TransientFetchError(f"cannot resolve host {host!r}", url=url) from exc
        _check_addresses(host, addrs, url, strict=True)

    # ---- robots ---------------------------------------------------------------------------
    async def allowed_by_robots(self, url: str) -> bool:
        """Whether robots.txt of the URL's host lets our User-Agent fetch it (cached per host)."""
        key = _host_key(url)
        lock = self._robots_locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._robots.get(key)
            if cached is None or cached[0] < time.monotonic():
                parser = await self._load_robots(key)
                self._robots[key] = (time.monotonic() + ROBOTS_TTL, parser)
                cached = self._robots[key]
        parser = cached[1]
        if parser is None:
            return True
        return parser.can_fetch(self.cfg.user_agent, url)

    async def _load_robots(self, base: str) -> urllib.robotparser.RobotFileParser | None:
        robots_url = base + "/robots.txt"
        parser = urllib.robotparser.RobotFileParser(robots_url)
        try:
            res = await self._fetch_with_retries(
                robots_url,
                headers={},
                max_bytes=ROBOTS_MAX_BYTES,
                robots=False,
                source=None,
                retries=0,
            )
        except FetchError as exc:
            # RFC 9309: a missing robots.txt (4xx) allows everything; we treat an unreachable
            # one the same way so one flaky host does not silently stop all its articles.
            LOGGER.debug("robots.txt of %s unavailable: %s", base, exc)
            return None
        parser.parse(res.text().splitlines())
        return parser

    # ---- fetching -------------------------------------------------------------------------
    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        robots: bool = False,
        max_bytes: int | None = None,
        accept: str | None = None,
        source: str | None = None,
    ) -> FetchResult:
        """GET a URL politely and defensively.

        Args:
            url: absolute http(s) URL.
            etag: stored ETag, sent as If-None-Match.
            last_modified: stored Last-Modified, sent as If-Modified-Since.
            robots: obey robots.txt (article pages); feeds are fetched regardless.
            max_bytes: body cap (default ``cfg.max_bytes``), enforced while streaming.
            accept: the Accept header.
            source: feed name, carried into errors.

        Returns:
            The result; ``not_modified`` is True on 304.

        Raises:
            BlockedURLError: refused by the URL guard or robots.txt.
            PermanentFetchError: 4xx, oversize, redirect loop or too many redirects.
            TransientFetchError: timeouts, connection errors, 429/5xx after retries.
        """
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        return await self._fetch_with_retries(
            url,
            headers=headers,
            max_bytes=max_bytes or self.cfg.max_bytes,
            robots=robots and self.cfg.obey_robots,
            source=source,
            retries=self.cfg.retries,
        )

    async def _fetch_with_retries(
        self,
        url: str,
        *,
        headers: dict[str, str],
        max_bytes: int,
        robots: bool,
        source: str | None,
        retries: int,
    ) -> FetchResult:
        attempt = 0
        while True:
            try:
                return await self._fetch_once(url, headers, max_bytes, robots)
            except _NoRetry as wrapped:
                wrapped.err.source = source
                raise wrapped.err from wrapped.__cause__
            except TransientFetchError as exc:
                exc.source = source
                if attempt >= retries:
                    raise
                delay = self.cfg.backoff_base * (2**attempt) * (1 + random.random())
                if exc.retry_after is not None:
                    if exc.retry_after > self.cfg.max_retry_after:
                        LOGGER.info(
                            "%s: Retry-After %.0fs exceeds cap %.0fs; giving up for now",
                            url,
                            exc.retry_after,
                            self.cfg.max_retry_after,
                        )
                        raise
                    delay = max(delay, exc.retry_after)
                attempt += 1
                self.stats["retries"] += 1
                LOGGER.debug("%s: %s; retry %d/%d in %.2fs", url, exc, attempt, retries, delay)
                await asyncio.sleep(delay)
            except FetchError as exc:
                exc.source = source
                raise

    async def _fetch_once(
        self, url: str, headers: dict[str, str], max_bytes: int, robots: bool
    ) -> FetchResult:
        return await self._follow(url, headers, max_bytes, robots, time.monotonic())

    async def _follow(
        self, url: str, headers: dict[str, str], max_bytes: int, robots: bool, started: float
    ) -> FetchResult:
        seen: list[str] = []
        current = url
        while True:
            try:
                await self.check(current)
            except TransientFetchError as exc:
                raise _NoRetry(exc) from exc  # the resolver has retried already
            if robots and not await self.allowed_by_robots(current):
                raise BlockedURLError("disallowed by robots.txt", url=current)
            if current in seen:
                raise PermanentFetchError(
                    f"redirect loop after {len(seen)} hops", url=url, status=None
                )
            seen.append(current)
            res, location = await self._request(current, headers, max_bytes)
            if location is None:
                assert res is not None
                res.elapsed = time.monotonic() - started
                res.redirects = seen[:-1]
                return res
            if len(seen) > self.cfg.max_redirects:
                raise PermanentFetchError(f"more than {self.cfg.max_redirects} redirects", url=url)
            nxt = urljoin(current, location.strip())
            LOGGER.debug("redirect %s -> %s", current, nxt)
            current = nxt.split("#", 1)[0]

    async def _slot(self, url: str) -> _HostState:
        key = _host_key(url)
        state = self._hosts.get(key)
        if state is None:
            state = self._hosts[key] = _HostState(self.cfg.per_host_concurrency)
        return state

    async def _request(
        self, url: str, headers: dict[str, str], max_bytes: int
    ) -> tuple[FetchResult | None, str | None]:
        """One request; returns (result, None) or (None, redirect location)."""
        host = _host_key(url)
        if self._unresolved.get(host, 0.0) > time.monotonic():
            raise _NoRetry(TransientFetchError("host name did not resolve (recently)", url=url))
        state = await self._slot(url)
        async with state.sem:
            if self.cfg.per_host_delay > 0:
                async with state.lock:
                    wait = state.next_at - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    state.next_at = time.monotonic() + self.cfg.per_host_delay
            async with self._global:
                self.stats["requests"] += 1
                try:
                    async with asyncio.timeout(self.cfg.total_timeout):
                        return await self._stream(url, headers, max_bytes)
                except BlockedURLError as exc:  # refused at the dial (GuardedBackend)
                    raise BlockedURLError(str(exc), url=url) from exc
                except TimeoutError as exc:
                    raise TransientFetchError(
                        f"total timeout after {self.cfg.total_timeout:.1f}s", url=url
                    ) from exc
                except httpx.TimeoutException as exc:
                    raise TransientFetchError(f"timeout: {type(exc).__name__}", url=url) from exc
                except httpx.ConnectError as exc:
                    err = TransientFetchError(
                        f"connection failed: {type(exc).__name__}: {exc}", url=url
                    )
                    if _caused_by_dns(exc):
                        # the resolver already retried; a name that does not resolve won't now
                        self._unresolved[host] = time.monotonic() + DNS_FAILURE_TTL
                        raise _NoRetry(err) from exc
                    raise err from exc
                except (
                    httpx.RemoteProtocolError,
                    httpx.ReadError,
                    httpx.WriteError,
                    httpx.ProxyError,
                ) as exc:
                    raise TransientFetchError(
                        f"connection failed: {type(exc).__name__}: {exc}", url=url
                    ) from exc
                except (
                    httpx.UnsupportedProtocol,
                    httpx.InvalidURL,
                    httpx.LocalProtocolError,
                    httpx.DecodingError,
                    httpx.TooManyRedirects,
                ) as exc:
                    raise PermanentFetchError(f"{type(exc).__name__}: {exc}", url=url) from exc
                except httpx.TransportError as exc:
                    raise TransientFetchError(f"{type(exc).__name__}: {exc}", url=url) from exc

    async def _stream(
        self, url: str, headers: dict[str, str], max_bytes: int
    ) -> tuple[FetchResult | None, str | None]:
        async with self._client.stream("GET", url, headers=headers) as resp:
            status = resp.status_code
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            if status in REDIRECT_STATUSES:
                location = hdrs.get("location")
                if not location:
                    raise PermanentFetchError(
                        f"HTTP {status} without Location", url=url, status=status
                    )
                await _drain(resp)
                return None, location
            if status == 304:
                self.stats["not_modified"] += 1
                await _drain(resp)
                return FetchResult(
                    url=url,
                    status=304,
                    headers=hdrs,
                    content=b"",
                    etag=hdrs.get("etag") or headers.get("If-None-Match"),
                    last_modified=hdrs.get("last-modified") or headers.get("If-Modified-Since"),
                    not_modified=True,
                ), None
            if status in RETRY_STATUSES:
                raise TransientFetchError(
                    f"HTTP {status}",
                    url=url,
                    status=status,
                    retry_after=parse_retry_after(hdrs.get("retry-after")),
                )
            if status >= 400 or status < 200:
                raise PermanentFetchError(f"HTTP {status}", url=url, status=status)
            declared = hdrs.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise PermanentFetchError(
                    f"body of {declared} bytes exceeds cap {max_bytes}", url=url, status=status
                )
            decoder = _BodyDecoder(hdrs.get("content-encoding", ""), max_bytes, url)
            raw = 0
            async for chunk in resp.aiter_raw():
                raw += len(chunk)
                if raw > max_bytes:
                    raise PermanentFetchError(
                        f"body exceeds {max_bytes} bytes", url=url, status=status
                    )
                decoder.feed(chunk)
            content = decoder.finish()
            return FetchResult(
                url=url,
                status=status,
                headers=hdrs,
                content=content,
                etag=hdrs.get("etag"),
                last_modified=hdrs.get("last-modified"),
            ), None


def fetch_sync(cfg: HttpConfig, url: str, **kw: Any) -> FetchResult:
    """Fetch one URL from synchronous code (runs its own event loop).

    Args:
        cfg: the ``[http]`` settings.
        url: the URL.
        **kw: keyword arguments of :meth:`HttpClient.fetch`.

    Returns:
        The fetch result.
    """

    async def _run() -> FetchResult:
        async with HttpClient(cfg) as client:
            return await client.fetch(url, **kw)

    return asyncio.run(_run())


async def _drain(resp: httpx.Response, limit: int = 65536) -> None:
    """Read a small leftover body so the connection goes back to the pool for reuse.

    A body larger than ``limit`` is not worth reading: the connection is dropped instead.
    """
    seen = 0
    try:
        async for chunk in resp.aiter_raw():
            seen += len(chunk)
            if seen > limit:
                return
    except (httpx.StreamError, httpx.TransportError):
        return  # already read, or the peer went away: nothing to reuse
