"""`OMI_SMTP_URL`, read into the settings of an SMTP connection: the scheme says how the
connection is secured, the query adds STARTTLS or a CA file. The URL may hold a password, so no
message here repeats it."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlsplit

_SCHEMES: dict[str, tuple[str, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_QUERY_KEYS = {"starttls", "cafile"}


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # "plain", "starttls" or "tls" (implicit TLS)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None
    timeout: float = 30.0

    def display_url(self) -> str:
        """The URL without the password, for logs and messages."""
        scheme = {"plain": "smtp", "starttls": "smtp+starttls", "tls": "smtps"}[self.security]
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{user}{host}:{self.port}"


def parse_smtp_url(url: str, timeout: float = 30.0) -> SmtpSettings:
    """Parse `smtp://`, `smtp+starttls://`, `smtps://` URLs (`?starttls=1`, `?cafile=PATH`).

    Error messages never repeat the URL: it may hold a password.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(
            f"unsupported SMTP URL scheme {scheme!r}: expected smtp, smtp+starttls or smtps"
        )
    security, default_port = _SCHEMES[scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("invalid port in the SMTP URL") from None
    host = parts.hostname
    if not host:
        raise ValueError("the SMTP URL has no host")
    if parts.path not in ("", "/"):
        raise ValueError("the SMTP URL must not have a path")

    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - _QUERY_KEYS
    if unknown:
        raise ValueError(f"unknown SMTP URL parameter(s): {', '.join(sorted(unknown))}")
    starttls = query.get("starttls", [""])[-1].lower()
    if starttls not in _TRUE | _FALSE:
        raise ValueError("starttls must be 1 or 0 in the SMTP URL")
    if starttls in _TRUE:
        if security == "tls":
            raise ValueError("smtps:// is already encrypted: starttls does not apply")
        security = "starttls"
    cafile = query.get("cafile", [None])[-1] or None

    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    if password and not username:
        raise ValueError("the SMTP URL has a password but no user")
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        username=username,
        password=password,
        cafile=cafile,
        timeout=timeout,
    )
