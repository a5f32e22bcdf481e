"""The SSRF guard: only http(s) to public addresses, checked per hop and on the connected peer."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from pipeline.errors import PermanentError, Reason, RetryableError
from pipeline.settings import Settings

ALLOWED_SCHEMES = ("http", "https")


# Metadata endpoints that are reachable on public-looking addresses in some clouds.
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"})
METADATA_ADDRESSES = frozenset({"169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def is_public_address(address: str) -> bool:
    """True when an IP address is globally routable and not a known metadata endpoint."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if str(ip) in METADATA_ADDRESSES:
        return False
    return ip.is_global and not ip.is_multicast


def resolve_host(host: str, port: int) -> list[str]:
    """Every address a host name resolves to (an IP literal resolves to itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise RetryableError(f"cannot resolve {host}: {exc}", reason=Reason.DNS_ERROR) from exc
    return sorted({info[4][0] for info in infos})


def is_allowlisted(host: str, port: int | None, settings: Settings) -> bool:
    """True when private addresses are allowed, globally or for this host:port."""
    return settings.allow_private_addresses or f"{host.lower()}:{port}" in settings.private_allowlist


def check_url(url: str, settings: Settings) -> None:
    """Raise PermanentError unless ``url`` is http(s) to a public host (SSRF guard)."""
    parts = urlsplit(str(url))
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise PermanentError(f"scheme not allowed: {url}", reason=Reason.BAD_SCHEME)
    host = (parts.hostname or "").lower()
    if not host:
        raise PermanentError(f"no host in URL: {url}", reason=Reason.BAD_URL)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError as exc:
        raise PermanentError(f"bad port in URL: {url}", reason=Reason.BAD_URL) from exc
    if is_allowlisted(host, port, settings):
        return
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise PermanentError(f"address not allowed: {host}", reason=Reason.BLOCKED_ADDRESS)
    for address in resolve_host(host, port):
        if not is_public_address(address):
            raise PermanentError(f"{host} resolves to non-public address {address}", reason=Reason.BLOCKED_ADDRESS)


def check_peer(response: httpx.Response, settings: Settings) -> None:
    """Refuse an answer from a non-public peer: DNS can change between the guard's lookup and connect.

    With a forward proxy the peer is the proxy; a private proxy then needs allow_private_addresses.
    """
    if is_allowlisted(response.url.host, response.url.port or DEFAULT_PORTS.get(response.url.scheme), settings):
        return
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if peer and not is_public_address(str(peer[0])):
        raise PermanentError(f"{response.url} connected to non-public address {peer[0]}",
                             reason=Reason.BLOCKED_ADDRESS)
