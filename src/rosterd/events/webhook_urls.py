"""Which URLs a webhook may be sent to.

http or https, with a host; and unless ``webhook_allow_private_urls`` is on, a host that is
and resolves only to public addresses: a webhook must not turn rosterd into a way of
reaching its own network (loopback services, cloud metadata at 169.254.169.254, the private
ranges). The name is resolved when the webhook is saved (a 400) and again before each
delivery, so a name that comes to resolve to a private address later is not sent to.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from rosterd.services.errors import Invalid, invalid_field

MAX_URL_LENGTH = 2048


def parse(url: str) -> tuple[str, int]:
    """The host and port of an acceptable webhook URL; Invalid (field ``url``) if it is not."""
    if len(url) > MAX_URL_LENGTH:
        raise invalid_field("url", f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise invalid_field("url", "not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid_field("url", "must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise invalid_field("url", "must not carry credentials")
    if parts.fragment:
        raise invalid_field("url", "must not carry a fragment")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_addresses(host: str, addresses: list[str]) -> None:
    """Invalid unless every address ``host`` resolved to is public."""
    if not addresses:
        raise invalid_field("url", f"the host {host} does not resolve")
    private = sorted({a for a in addresses if not _public(a)})
    if private:
        raise invalid_field(
            "url",
            f"the host {host} is a private, loopback or link-local address ({private[0]}); "
            "set ROSTERD_WEBHOOK_ALLOW_PRIVATE_URLS=true to allow such receivers",
        )


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (blocking); none when it does not resolve."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return [str(info[4][0]) for info in found]


def check(url: str, *, allow_private: bool) -> None:
    """Invalid unless ``url`` may be sent to (blocking: it resolves the host)."""
    host, port = parse(url)
    if not allow_private:
        check_addresses(host, resolve(host, port))


def refusal(url: str, *, allow_private: bool) -> str | None:
    """Why a delivery to ``url`` must not be sent now, or None."""
    try:
        check(url, allow_private=allow_private)
    except Invalid as exc:
        return exc.message
    return None
