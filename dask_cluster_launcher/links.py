"""Which links the sidebar is given: only those a browser may follow safely."""

from __future__ import annotations

import re

# http(s) with a host, or a path on this server (one slash: "//host" and "/\host" are other hosts)
_WEB_LINK = re.compile(r"(?i)https?://[^/\\]|/(?![/\\])")


def web_link(link: str | None) -> str | None:
    """``link`` if a browser may follow it: an ``http(s)`` URL or a path on this server.

    A dashboard link comes from the backend, which may repeat what a scheduler or a service
    said (Saturn, a gateway, an adopted scheduler); anything else (``javascript:``, ``data:``,
    ``//host``) is dropped, and the sidebar checks again before it makes a link of one.
    """
    return link if link and _WEB_LINK.match(link) else None
