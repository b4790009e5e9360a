"""The tracking server: is it there, and its credentials kept out of everything shown or stored.

- `redact_uri(uri)`: the URI safe to print, log or store: userinfo becomes `user:***@` (a lone user part, often
  a token, `***@`) and the value of every token-like query parameter (token, access_token, password, key,
  secret, sig, ...) `***`. `redact_text(text)` does the same to every URI inside a text (log lines, messages).
  Every place thinkact shows or stores a tracking URI goes through these two.
- `connect(uri)`: what a stage, the flow and the registry do before any work against the store: MLflow's own
  HTTP retries bounded (`HTTP_DEFAULTS`, defaults a user may override: out of the box MLflow retries a refused
  connection for about 4 minutes per call), MLflow's "View run at <uri>" links turned off when the URI carries
  credentials, and an http(s) server probed once (`require_server`).
- `unreachable(uri)`: one GET on `<uri>/health`, `PROBE_TIMEOUT_S` seconds, no retries; the reason it failed, or
  None. Any HTTP answer counts as reachable (even 401 or 404: the server is there) except 502/503/504, which a
  proxy gives when the server behind it is down. Local stores (sqlite, file) are never probed.

    connect("http://alice:s3cr3t@host:5987")   # TrackingUnavailable at once when nothing answers
    redact_uri("http://alice:s3cr3t@host:5987?token=abc")  # 'http://alice:***@host:5987?token=***'
"""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

import requests

from thinkact.errors import ThinkactError

PROBE_TIMEOUT_S = 3.0
HTTP_DEFAULTS = {  # MLflow's per-call retries: ~6-9 s to give up on a refused connection instead of ~250 s
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}
SECRET_PARAM = re.compile(r"token|passw|pwd|secret|key|sig|credential|auth|session", re.IGNORECASE)
URI_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")
MASK = "***"


class TrackingUnavailable(ThinkactError):
    """The MLflow tracking server does not answer; the message names it (credentials redacted) and what to do."""

    def __init__(self, uri: str, reason: str):
        self.uri, self.reason = redact_uri(uri), reason
        parts = urlsplit(uri)
        port = parts.port if (parts.netloc.rsplit(":", 1)[-1]).isdigit() else 5000
        start = (f"mlflow server --host {parts.hostname or '127.0.0.1'} --port {port} "
                 "--backend-store-uri sqlite:///mlflow/mlflow.db")
        super().__init__(f"MLflow tracking server {self.uri} is unreachable ({reason}): start it (e.g. `{start}`) "
                         "or unset MLFLOW_TRACKING_URI to use the local store mlflow/mlflow.db")


def redact_uri(uri: str) -> str:
    """`uri` with its userinfo and token-like query values replaced by *** (see the module docstring); the rest of
    the text is left exactly as it was."""
    if "://" not in uri:
        return uri
    parts = urlsplit(uri)
    out = uri
    if "@" in parts.netloc:
        userinfo, host = parts.netloc.rsplit("@", 1)
        user, has_password, _ = userinfo.partition(":")
        out = out.replace(parts.netloc, f"{user}:{MASK}@{host}" if has_password and user else f"{MASK}@{host}", 1)
    if parts.query:
        query = "&".join(_redact_pair(pair) for pair in parts.query.split("&"))
        out = out.replace(f"?{parts.query}", f"?{query}", 1)
    return out


def _redact_pair(pair: str) -> str:
    key, has_value, _ = pair.partition("=")
    return f"{key}={MASK}" if has_value and SECRET_PARAM.search(key) else pair


def redact_text(text: str) -> str:
    """`text` with every URI in it redacted (`redact_uri`)."""
    return URI_IN_TEXT.sub(lambda m: redact_uri(m.group(0)), text) if "://" in text else text


def is_http(uri: str | None) -> bool:
    return bool(uri) and uri.split("://", 1)[0].lower() in ("http", "https")


def unreachable(uri: str | None, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Why the http(s) tracking server at `uri` does not answer (one GET on /health), or None when it does
    (and for local stores, which are not probed)."""
    if not is_http(uri):
        return None
    verify: bool | str = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH") or \
        os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() not in ("true", "1")
    try:
        parts = urlsplit(uri)
        health = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/health", parts.query, ""))
        status = requests.get(health, timeout=timeout, verify=verify).status_code
    except requests.Timeout:
        return f"no answer within {timeout:g} s"
    except requests.ConnectionError as e:
        return "connection refused" if "refused" in str(e).lower() else "cannot connect"
    except requests.RequestException as e:
        return redact_text(f"{type(e).__name__}: {e}")
    return f"HTTP {status} from the server's proxy" if status in (502, 503, 504) else None


def require_server(uri: str | None) -> None:
    """Raise TrackingUnavailable when the http(s) server at `uri` does not answer (a few seconds at most)."""
    reason = unreachable(uri)
    if reason:
        raise TrackingUnavailable(uri or "", reason)


def connect(uri: str) -> None:
    """Before a client talks to `uri`: bounded MLflow HTTP retries, no credential-bearing links, server probed."""
    for key, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(key, value)
    if redact_uri(uri) != uri:  # MLflow prints "View run ... at: <uri>/#/..." on set_terminated, password and all
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    require_server(uri)
