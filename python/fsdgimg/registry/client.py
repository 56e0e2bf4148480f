"""A client for the OCI distribution API: scheme selection, authentication, retries, clear errors.

Plain HTTP is used only for a loopback registry or with an explicit `insecure=True` (then an HTTPS
attempt comes first, as crane and skopeo do). Every request is retried with exponential backoff on
connection errors, 429 and 5xx; after that one FsdgimgError names the registry and what failed.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
import urllib.parse
from typing import Callable, Iterable

import requests
import requests.adapters

from fsdgimg import __version__
from fsdgimg.errors import FsdgimgError
from fsdgimg.registry.auth import Challenge, Credentials, parse_challenges

RETRY_STATUS = {429, 500, 502, 503, 504}
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
USER_AGENT = f"fsdgimg/{__version__}"
SEND_BLOCK = 1 << 20  # bytes per socket write when streaming a body (http.client's default is 8 KiB)


class RegistryError(FsdgimgError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class AuthError(RegistryError):
    pass


def is_loopback(registry: str) -> bool:
    host = urllib.parse.urlsplit("//" + registry).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def error_detail(resp: requests.Response) -> str:
    """The registry's own error codes ({"errors":[{"code","message"}]}), short, or the reason phrase."""
    try:
        errors = resp.json().get("errors") or []
        text = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                         for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        text = ""
    return (text or resp.reason or "").replace("\n", " ")[:200]


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["blocksize"] = SEND_BLOCK
        super().init_poolmanager(*args, **kwargs)


class RegistryClient:
    def __init__(self, registry: str, *, credentials: Credentials | None = None, insecure: bool = False,
                 retries: int = 5, backoff: float = 0.5, timeout: float = 60.0, connections: int = 8,
                 ca_file: str | None = None):
        self.registry = registry
        self.credentials = credentials
        self.insecure = insecure
        self.retries = retries
        self.backoff = backoff
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # No .netrc (requests would let it replace our Authorization header) and no CA bundle from the
        # environment (--ca-file says which CA); proxies from the environment are honoured below.
        self.session.trust_env = False
        adapter = _Adapter(pool_connections=2, pool_maxsize=connections, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.verify = False if insecure else (ca_file or True)
        self._base: str | None = None
        self._ping_error: RegistryError | None = None
        self._lock = threading.Lock()
        self._authorization: str | None = None
        self._scopes: set[str] = set()
        self._challenge: Challenge | None = None

    # -- scheme ------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        if self._base is None:
            with self._lock:
                if self._ping_error is not None:
                    raise self._ping_error  # once is enough: other threads get the same answer
                if self._base is None:
                    try:
                        self._base = self._ping()
                    except RegistryError as e:
                        self._ping_error = e
                        raise
        return self._base

    def _ping(self) -> str:
        schemes = ["https"]
        if self.insecure or is_loopback(self.registry):
            schemes.append("http")
        last: Exception | None = None
        tls_error: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.registry}/v2/"
            for attempt in range(self.retries + 1):
                try:
                    resp = self.session.get(url, timeout=self.timeout, proxies=_proxies(url))
                    resp.close()
                except requests.exceptions.SSLError as e:
                    last = e
                    # "wrong version number" is a plain-HTTP server; a certificate problem is worth reporting.
                    if "certificate" in str(e).lower() or "hostname" in str(e).lower():
                        tls_error = e
                    break
                except NETWORK_ERRORS as e:
                    # An HTTP registry closes a TLS hello at once: try the next scheme before waiting.
                    last = e
                    if scheme != schemes[-1]:
                        break
                    self._sleep(attempt)
                    continue
                if resp.status_code in RETRY_STATUS and attempt < self.retries:
                    self._sleep(attempt)
                    continue
                if resp.status_code in (200, 401):
                    if resp.status_code == 401:
                        self._remember_challenge(resp)
                    return f"{scheme}://{self.registry}"
                if tls_error is not None:
                    break  # an HTTPS server answering our plain-HTTP fallback: report its TLS problem
                raise RegistryError(f"registry {self.registry}: GET /v2/ answered HTTP {resp.status_code} "
                                    f"({error_detail(resp)}): not an OCI distribution registry", resp.status_code)
        if tls_error is not None and not self.insecure:
            raise RegistryError(f"registry {self.registry}: TLS verification failed "
                                f"({_short(tls_error)}); give its CA with --ca-file, or --insecure only "
                                "for a registry you trust")
        raise RegistryError(f"registry {self.registry}: cannot connect ({_short(last)})")

    def _sleep(self, attempt: int) -> None:
        time.sleep(min(self.backoff * (2 ** attempt), 15.0))

    def url(self, path: str) -> str:
        return urllib.parse.urljoin(self.base + "/", path)

    # -- authentication ----------------------------------------------------------------------
    def add_scopes(self, scopes: Iterable[str]) -> None:
        with self._lock:
            self._scopes.update(scopes)

    def _remember_challenge(self, resp: requests.Response) -> None:
        challenges = parse_challenges(resp.headers.get("WWW-Authenticate", ""))
        preferred = [c for c in challenges if c.scheme == "bearer"] or [c for c in challenges if c.scheme == "basic"]
        self._challenge = preferred[0] if preferred else None

    def _authenticate(self, resp: requests.Response, used: str | None) -> None:
        """Answer a 401: fetch a token for the scopes (bearer) or send credentials (basic)."""
        with self._lock:
            if self._authorization != used:
                return  # another thread has already answered a challenge since
            self._remember_challenge(resp)
            ch = self._challenge
            if ch is None:
                raise AuthError(f"registry {self.registry}: HTTP 401 without a usable WWW-Authenticate challenge",
                                401)
            if ch.scheme == "basic":
                if self.credentials is None:
                    raise AuthError(f"registry {self.registry}: authentication required "
                                    "(give --username and --password-stdin, or log in with podman/skopeo)", 401)
                if used is not None:
                    raise self._refused()
                self._authorization = self.credentials.basic_header()
                return
            scope = ch.params.get("scope")
            if scope:
                self._scopes.update(scope.split(" "))
            self._authorization = "Bearer " + self._fetch_token(ch)

    def _refused(self) -> AuthError:
        origin = self.credentials.origin if self.credentials else "anonymous"
        user = f"user {self.credentials.username!r}" if self.credentials and not self.credentials.identity_token else "token"
        return AuthError(f"registry {self.registry}: authentication failed for {user} "
                         f"(credentials from {origin}): wrong username or password?", 401)

    def _fetch_token(self, ch: Challenge) -> str:
        realm = ch.params.get("realm")
        if not realm:
            raise AuthError(f"registry {self.registry}: bearer challenge without a realm", 401)
        realm_host = urllib.parse.urlsplit(realm)
        if realm_host.scheme == "http" and not (self.insecure or is_loopback(realm_host.netloc)):
            raise AuthError(f"registry {self.registry}: refusing to send credentials to a plain-HTTP token "
                            f"service ({realm_host.netloc}); use --insecure to allow it")
        params: list[tuple[str, str]] = []
        if ch.params.get("service"):
            params.append(("service", ch.params["service"]))
        params += [("scope", s) for s in sorted(self._scopes)]
        creds = self.credentials
        for attempt in range(self.retries + 1):
            try:
                if creds and creds.identity_token:
                    form = dict(params, grant_type="refresh_token", refresh_token=creds.password,
                                client_id="fsdgimg")
                    form["scope"] = " ".join(sorted(self._scopes))
                    resp = self.session.post(realm, data=form, timeout=self.timeout, proxies=_proxies(realm))
                else:
                    headers = {"Authorization": creds.basic_header()} if creds else {}
                    resp = self.session.get(realm, params=params, headers=headers, timeout=self.timeout,
                                            proxies=_proxies(realm))
            except NETWORK_ERRORS as e:
                if attempt == self.retries:
                    raise AuthError(f"registry {self.registry}: token service {realm_host.netloc} unreachable "
                                    f"({_short(e)})") from None
                self._sleep(attempt)
                continue
            if resp.status_code in RETRY_STATUS and attempt < self.retries:
                self._sleep(attempt)
                continue
            break
        if resp.status_code in (401, 403):
            raise self._refused()
        if resp.status_code != 200:
            raise AuthError(f"registry {self.registry}: token service {realm_host.netloc} answered HTTP "
                            f"{resp.status_code} ({error_detail(resp)})", resp.status_code)
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(f"registry {self.registry}: token service {realm_host.netloc} returned no token")
        return token

    # -- requests ----------------------------------------------------------------------------
    def request(self, method: str, path: str, *, what: str, ok: Iterable[int] = (200,),
                headers: dict | None = None, body: Callable[[], object] | None = None,
                params: dict | None = None, stream: bool = False, retry: bool = True,
                allow: Iterable[int] = ()) -> requests.Response:
        """One API call. `body` is a factory, called once per attempt, so a retry resends from the start.
        Statuses in `ok` are returned, and so are those in `allow` (e.g. 404 for HEAD); anything else raises."""
        ok, allow = set(ok), set(allow)
        url = path if "://" in path else self.url(path)
        attempts = self.retries + 1 if retry else 1
        auth_rounds = 0
        attempt = 0
        while True:
            used = self._authorization
            h = dict(headers or {})
            if used:
                h["Authorization"] = used
            try:
                resp = self.session.request(method, url, headers=h, data=body() if body else None,
                                            proxies=_proxies(url),
                                            params=params, stream=stream, timeout=self.timeout,
                                            allow_redirects=method in ("GET", "HEAD"))
            except requests.exceptions.SSLError as e:
                raise RegistryError(f"registry {self.registry}: {what}: TLS error ({_short(e)})") from None
            except NETWORK_ERRORS as e:
                attempt += 1
                if attempt >= attempts:
                    raise RegistryError(f"registry {self.registry}: {what}: connection failed after "
                                        f"{attempt} attempt{'s' * (attempt > 1)} ({_short(e)})") from None
                self._sleep(attempt - 1)
                continue
            if resp.status_code == 401 and auth_rounds < 2:
                auth_rounds += 1
                resp.close()
                self._authenticate(resp, used)
                continue
            if resp.status_code in ok or resp.status_code in allow:
                return resp
            if resp.status_code in RETRY_STATUS:
                attempt += 1
                if attempt < attempts:
                    resp.close()
                    self._sleep(attempt - 1)
                    continue
            detail = error_detail(resp)
            resp.close()
            if resp.status_code == 401:
                raise self._refused() if self.credentials else AuthError(
                    f"registry {self.registry}: {what}: authentication required (HTTP 401)", 401)
            if resp.status_code == 403:
                raise AuthError(f"registry {self.registry}: {what}: access denied (HTTP 403: {detail})", 403)
            raise RegistryError(f"registry {self.registry}: {what}: HTTP {resp.status_code} ({detail})",
                                resp.status_code)

    def close(self) -> None:
        self.session.close()


def _proxies(url: str) -> dict:
    """HTTP(S)_PROXY / NO_PROXY from the environment, as skopeo honours them."""
    return requests.utils.get_environ_proxies(url)


def _short(e: Exception | None) -> str:
    """An exception's gist without urllib3's nested reprs (and never a header)."""
    if e is None:
        return "no answer"
    text = str(e)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m:
        return m.group(1).strip()
    for marker in ("Read timed out", "Connection aborted", "Connection reset by peer", "RemoteDisconnected",
                   "certificate verify failed", "IncompleteRead", "wrong version number"):
        if marker in text:
            return marker.lower() if marker[0].isupper() and " " in marker else marker
    return f"{type(e).__name__}: {text}"[:160]
