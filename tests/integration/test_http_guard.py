"""The URL guard holds for the connection actually made (DNS rebinding, odd spellings, redirects).

Real servers on 127.0.0.1. A hostile resolver is a plain function the client is given (what a
DNS server controlled by a feed's author would answer). The one fence around httpcore's real
network backend keeps every dial on this machine: the "public" test address 93.184.216.34 is
routed to a loopback site, 127.0.0.1 is dialled as is, anything else is refused and recorded.
The "internal" server counts the TCP connections it accepts: it must accept none.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpcore
import pytest

from regionwatch.errors import BlockedURLError
from regionwatch.http import FetchResult, HttpClient, check_url
from regionwatch.settings import HttpConfig
from tests.integration.test_http import cfg as http_cfg
from tests.loopback import LoopServer, Resource, SilentListener

pytestmark = pytest.mark.integration

PUBLIC = "93.184.216.34"


class Fence(httpcore.AnyIOBackend):
    """httpcore's real backend, kept on loopback: PUBLIC → the site, 127.0.0.1 as is."""

    def __init__(self, site_port: int) -> None:
        self.site_port = site_port
        self.dials: list[tuple[str, int]] = []

    async def connect_tcp(self, host: str, port: int, **kw: Any) -> httpcore.AsyncNetworkStream:
        self.dials.append((host, port))
        if host == PUBLIC:
            host, port = "127.0.0.1", self.site_port
        elif host != "127.0.0.1":
            raise httpcore.ConnectError(f"fenced: {host}")
        return await super().connect_tcp(host, port, **kw)


class Dns:
    """A resolver answering from a table; a list of answers is served in turn (the last repeats)."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        n = sum(1 for h in self.calls if h == host)
        self.calls.append(host)
        answers = self.table.get(host)
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return answers[min(n, len(answers) - 1)]


def cfg(allow_private: bool = False) -> HttpConfig:
    return http_cfg(allow_private_networks=allow_private, retries=0, obey_robots=False)


def fetch(url: str, config: HttpConfig, **client_kw: Any) -> FetchResult:
    async def run() -> FetchResult:
        async with HttpClient(config, **client_kw) as client:
            return await client.fetch(url)

    return asyncio.run(run())


@pytest.fixture(scope="module")
def site() -> Iterator[LoopServer]:
    srv = LoopServer().start()
    srv.set("/ok", Resource(b"<html><body>public page</body></html>", conditional=False))
    srv.set(
        "/to-ten",
        Resource(b"", status=302, headers={"Location": "http://10.1.2.3/x"}, conditional=False),
    )
    srv.set(
        "/to-intranet",
        Resource(
            b"",
            status=302,
            headers={"Location": "http://intranet.example.org/admin"},
            conditional=False,
        ),
    )
    yield srv
    srv.stop()


@pytest.fixture
def internal() -> Iterator[SilentListener]:
    lst = SilentListener()
    yield lst
    lst.close()


def test_rebinding_resolver_never_reaches_loopback(
    site: LoopServer, internal: SilentListener
) -> None:
    """Public to the check, 127.0.0.1 to the dial: the dial vets its own answer and refuses."""
    dns = Dns({"rebind.example.org": [[PUBLIC], ["127.0.0.1"]]})
    fence = Fence(site.port)
    with pytest.raises(BlockedURLError, match="127.0.0.1"):
        fetch(
            f"http://rebind.example.org:{internal.port}/secret",
            cfg(),
            resolver=dns,
            network_backend=fence,
            dns_ttl=0,  # no cache: the check and the dial each ask the resolver
        )
    assert dns.calls == ["rebind.example.org", "rebind.example.org"]
    assert fence.dials == []
    assert internal.accepted == 0


def test_check_and_dial_use_one_resolution(site: LoopServer, internal: SilentListener) -> None:
    """Within the DNS TTL the dial goes to the very address the check vetted, by name."""
    site.clear_log()
    dns = Dns({"rebind.example.org": [[PUBLIC], ["127.0.0.1"]]})
    fence = Fence(site.port)
    res = fetch(
        f"http://rebind.example.org:{internal.port}/ok",
        cfg(),
        resolver=dns,
        network_backend=fence,
    )
    assert res.status == 200 and b"public page" in res.content
    assert dns.calls == ["rebind.example.org"]  # resolved once
    assert fence.dials == [(PUBLIC, internal.port)]
    assert internal.accepted == 0
    (req,) = site.requests("/ok")
    assert req.headers["host"] == f"rebind.example.org:{internal.port}"  # Host keeps the name


def test_idn_name_is_resolved_once_as_dialled(site: LoopServer) -> None:
    dns = Dns({"xn--e1afmkfd.example": [[PUBLIC], ["127.0.0.1"]]})  # пример.example
    fence = Fence(site.port)
    res = fetch("http://пример.example/ok", cfg(), resolver=dns, network_backend=fence)
    assert res.status == 200
    assert dns.calls == ["xn--e1afmkfd.example"]
    assert fence.dials == [(PUBLIC, 80)]


@pytest.mark.parametrize(
    "host",
    [
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "2130706433",  # decimal
        "0177.0.0.1",  # octal
        "0x7f.0.0.1",  # hex
        "0x7f000001",
        "127.1",  # short form
        "017700000001",  # octal, one part
    ],
)
def test_loopback_spellings_are_refused(
    host: str, site: LoopServer, internal: SilentListener
) -> None:
    url = f"http://{host}:{internal.port}/x"
    with pytest.raises(BlockedURLError):
        check_url(url, allow_private=False)
    fence = Fence(site.port)
    dns = Dns({})
    with pytest.raises(BlockedURLError):
        fetch(url, cfg(), resolver=dns, network_backend=fence)
    assert fence.dials == [] and dns.calls == []
    assert internal.accepted == 0


@pytest.mark.parametrize("answer", ["::1", "::ffff:127.0.0.1", "10.0.0.7", "169.254.169.254"])
def test_names_resolving_inside_are_refused(answer: str, site: LoopServer) -> None:
    fence = Fence(site.port)
    dns = Dns({"odd.example.org": [[PUBLIC, answer]]})
    with pytest.raises(BlockedURLError, match="non-public"):
        fetch("http://odd.example.org/x", cfg(), resolver=dns, network_backend=fence)
    assert fence.dials == []


@pytest.mark.parametrize(
    ("path", "refused"), [("/to-ten", "10.1.2.3"), ("/to-intranet", "10.20.30.40")]
)
def test_redirect_into_ten_slash_eight_is_refused(
    path: str, refused: str, site: LoopServer
) -> None:
    site.clear_log()
    fence = Fence(site.port)
    dns = Dns({"news.example.org": [[PUBLIC]], "intranet.example.org": [["10.20.30.40"]]})
    with pytest.raises(BlockedURLError, match=refused.replace(".", r"\.")):
        fetch(f"http://news.example.org{path}", cfg(), resolver=dns, network_backend=fence)
    assert fence.dials == [(PUBLIC, 80)]  # the first hop only
    assert len(site.requests(path)) == 1


def test_public_looking_name_on_loopback_works_when_private_allowed(site: LoopServer) -> None:
    site.clear_log()
    dns = Dns({"news.example.org": [["127.0.0.1"]]})
    res = fetch(f"http://news.example.org:{site.port}/ok", cfg(allow_private=True), resolver=dns)
    assert res.status == 200 and b"public page" in res.content
    (req,) = site.requests("/ok")
    assert req.headers["host"] == f"news.example.org:{site.port}"
    with pytest.raises(BlockedURLError):
        fetch(f"http://news.example.org:{site.port}/ok", cfg(allow_private=False), resolver=dns)


def test_httpx_transport_dials_through_the_guard() -> None:
    """Pins the one httpx internal the guard relies on: the transport's pool is ``_pool``."""
    import httpx

    from regionwatch.http import GuardedBackend

    client = HttpClient(cfg())
    transport: Any = client._client._transport  # noqa: SLF001
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    assert isinstance(transport._pool, httpcore.AsyncConnectionPool)  # noqa: SLF001
    assert isinstance(transport._pool._network_backend, GuardedBackend)  # noqa: SLF001
    asyncio.run(client.aclose())
