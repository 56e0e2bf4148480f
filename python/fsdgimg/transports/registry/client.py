"""A client for the OCI distribution API: scheme selection, authentication, retries, clear errors.

Every request, the /v2/ probe and the token service's included, goes through `RegistryClient.send`:
the one place that applies the retry policy (exponential backoff on connection errors, 429 and 5xx),
the deadlines, the plain-HTTP rule and the credential rule.

- Plain HTTP only to a loopback origin, or to the registry itself when `insecure=True` named it
  (then an HTTPS attempt comes first, as crane and skopeo do). An upload `Location` or a redirect to
  a plain-HTTP origin elsewhere is refused.
- `Authorization` goes only to the origin (scheme, host, port) it was obtained for: the registry's.
  An upload or redirect to another origin gets none, and its 401 is not answered with credentials.
- Deadlines: connecting waits CONNECT_TIMEOUT, an answer READ_TIMEOUT, and no request (retries
  included) goes on longer than DEADLINE seconds without an answer: a registry that never answers
  fails in about a minute (FSDGIMG_REGISTRY_TIMEOUT=SECONDS changes that bound).
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Iterable

import requests
import requests.adapters

from fsdgimg import __version__
from fsdgimg.errors import FsdgimgError, UsageError, printable  # printable: also for push.py, which imports it here
from fsdgimg.transports.registry.auth import Challenge, Credentials, parse_challenges

RETRY_STATUS = {429, 500, 502, 503, 504}
NETWORK_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
USER_AGENT = f"fsdgimg/{__version__}"
SEND_BLOCK = 1 << 20  # bytes per socket write when streaming a body (http.client's default is 8 KiB)
CONNECT_TIMEOUT = 10.0  # seconds to establish a connection (TLS handshake included)
READ_TIMEOUT = 30.0     # seconds of silence from the server, per read
DEADLINE = 60.0         # seconds after which no further attempt of a request is started
MAX_REDIRECTS = 5
TIMEOUT_ENV = "FSDGIMG_REGISTRY_TIMEOUT"
API_VERSION_HEADER = "Docker-Distribution-API-Version"


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


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL, the default port filled in: what a credential is bound to."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or (443 if scheme == "https" else 80)


def error_detail(resp: requests.Response) -> str:
    """The registry's own error codes ({"errors":[{"code","message"}]}), short, or the reason phrase."""
    try:
        errors = resp.json().get("errors") or []
        text = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ")
                         for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError, RuntimeError):
        text = ""
    return printable(text or resp.reason or "")[:200]


def system_trust() -> str | bool:
    """What TLS certificates are checked against without --ca-file: the system's CA certificates
    ($SSL_CERT_DIR, else $SSL_CERT_FILE, else OpenSSL's defaults), as skopeo and cosign do, else
    requests' own bundle (True). The hashed directory comes first: OpenSSL reads from it only the
    issuers it meets, where loading a whole bundle costs ~35 ms at each start (a sixth of a verify)."""
    import ssl
    paths = ssl.get_default_verify_paths()
    capath = paths.capath
    try:
        if capath and any(re.fullmatch(r"[0-9a-f]{8}\.\d+", name) for name in os.listdir(capath)):
            return capath
    except OSError:
        pass
    return paths.cafile or True


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a request is tried again: the one policy every request follows."""
    retries: int = 5
    backoff: float = 0.5
    max_delay: float = 15.0
    deadline: float = DEADLINE
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT

    def delay(self, attempt: int) -> float:
        return min(self.backoff * (2 ** attempt), self.max_delay)


class _Adapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs["blocksize"] = SEND_BLOCK
        super().init_poolmanager(*args, **kwargs)


class RegistryClient:
    def __init__(self, registry: str, *, credentials: Credentials | None = None, insecure: bool = False,
                 retries: int = 5, backoff: float = 0.5, timeout: float | None = None, connections: int = 8,
                 ca_file: str | None = None, deadline: float = DEADLINE):
        self.registry = registry
        self.credentials = credentials
        self.insecure = insecure
        deadline = _deadline_from_env(deadline)
        self.policy = RetryPolicy(retries=max(0, retries), backoff=backoff, deadline=deadline,
                                  connect_timeout=min(CONNECT_TIMEOUT, deadline / 2),
                                  read_timeout=min(timeout or READ_TIMEOUT, deadline / 2))
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # No .netrc (requests would let it replace our Authorization header) and no REQUESTS_CA_BUNDLE
        # (--ca-file, else the system's CAs: system_trust); proxies from the environment are honoured below.
        self.session.trust_env = False
        self.connections = connections   # kept open per origin: the most requests worth sending at once
        adapter = _Adapter(pool_connections=2, pool_maxsize=connections, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.verify = False if insecure else (ca_file or system_trust())
        self._base: str | None = None
        self._origin: tuple[str, str, int] | None = None
        self._ping_error: RegistryError | None = None
        self._lock = threading.Lock()
        self._authorization: str | None = None
        self._scopes: set[str] = set()
        self._challenge: Challenge | None = None
        self.api_version: str | None = None  # the /v2/ answer's Docker-Distribution-API-Version
        self.ping_status: int | None = None
        # Whether this registry stores a blob sent whole with the upload's opening POST (`?digest=`):
        # None until a push has seen its answer (push.Pusher asks only with small blobs until then).
        self.single_post: bool | None = None

    @property
    def retries(self) -> int:
        return self.policy.retries

    # -- scheme ------------------------------------------------------------------------------
    @property
    def base(self) -> str:
        if self._base is None:
            with self._lock:
                if self._ping_error is not None:
                    raise self._ping_error  # once is enough: other threads get the same answer
                if self._base is None:
                    try:
                        base = self._ping()
                    except RegistryError as e:
                        self._ping_error = e
                        raise
                    self._origin = origin_of(base)
                    self._base = base
        return self._base

    def _ping(self) -> str:
        schemes = ["https"]
        if self.insecure or is_loopback(self.registry):
            schemes.append("http")
        deadline = time.monotonic() + self.policy.deadline
        last: Exception | None = None
        tls_error: Exception | None = None
        for scheme in schemes:
            url = f"{scheme}://{self.registry}/v2/"
            probing = scheme != schemes[-1]
            try:
                # An HTTP registry closes a TLS hello at once: the HTTPS probe is not retried.
                resp = self.send("GET", url, what="GET /v2/", retry=not probing, deadline=deadline,
                                 raise_network=True)
                resp.close()
            except requests.exceptions.SSLError as e:
                last = e
                # "wrong version number" is a plain-HTTP server; a certificate problem is worth reporting.
                if "certificate" in str(e).lower() or "hostname" in str(e).lower():
                    tls_error = e
                continue
            except NETWORK_ERRORS as e:
                last = e
                continue
            if resp.status_code in (200, 401):
                self.ping_status = resp.status_code
                self.api_version = resp.headers.get(API_VERSION_HEADER)
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

    def require_distribution_api(self) -> None:
        """Refuse a server that is not a distribution-API registry (a web server answering 200 to
        everything): /v2/ must carry the API-version header or challenge for authentication."""
        self.base
        if self.api_version or (self.ping_status == 401 and self._challenge is not None):
            return
        raise RegistryError(f"{self.registry} is not an OCI distribution registry: GET /v2/ answered "
                            f"HTTP {self.ping_status} without a {API_VERSION_HEADER} header or an "
                            "authentication challenge")

    def sleep(self, attempt: int) -> None:
        time.sleep(self.policy.delay(attempt))

    _sleep = sleep

    def url(self, path: str) -> str:
        return urllib.parse.urljoin(self.base + "/", path)

    def same_origin(self, url: str) -> bool:
        self.base
        return origin_of(url) == self._origin

    def _check_scheme(self, url: str) -> None:
        scheme, host, port = origin_of(url)
        if scheme == "https":
            return
        if scheme != "http":
            raise RegistryError(f"registry {self.registry}: refusing a {printable(scheme)!r} URL")
        netloc = urllib.parse.urlsplit(url).netloc.rpartition("@")[2]
        if is_loopback(netloc):
            return
        if self.insecure and origin_of(f"http://{self.registry}")[1:] == (host, port):
            return
        raise RegistryError(f"registry {self.registry}: refusing plain HTTP to {printable(netloc)} "
                            "(only loopback, or the registry --insecure names)")

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
        if realm_host.scheme not in ("http", "https"):
            raise AuthError(f"registry {self.registry}: bearer realm is not an HTTP(S) URL")
        if realm_host.scheme == "http" and not is_loopback(realm_host.netloc) and not (
                self.insecure and origin_of(realm)[1:] == origin_of(f"http://{self.registry}")[1:]):
            raise AuthError(f"registry {self.registry}: refusing to send credentials to a plain-HTTP token "
                            f"service ({printable(realm_host.netloc)})")
        params: list[tuple[str, str]] = []
        if ch.params.get("service"):
            params.append(("service", ch.params["service"]))
        params += [("scope", s) for s in sorted(self._scopes)]
        creds = self.credentials
        what = f"token service {printable(realm_host.netloc)}"
        try:
            if creds and creds.identity_token:
                form = dict(params, grant_type="refresh_token", refresh_token=creds.password, client_id="fsdgimg")
                form["scope"] = " ".join(sorted(self._scopes))
                resp = self.send("POST", realm, what=what, body=lambda: form, authorize=False)
            else:
                # The token service is where the credentials are meant to go (the distribution token
                # flow): they are given to it explicitly, never as the registry's Authorization.
                headers = {"Authorization": creds.basic_header()} if creds else {}
                resp = self.send("GET", realm, what=what, params=params, headers=headers, authorize=False,
                                 follow=False)
        except RegistryError as e:
            raise AuthError(str(e), e.status) from None
        if resp.status_code in (401, 403):
            raise self._refused()
        if resp.status_code != 200:
            raise AuthError(f"registry {self.registry}: {what} answered HTTP "
                            f"{resp.status_code} ({error_detail(resp)})", resp.status_code)
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise AuthError(f"registry {self.registry}: {what} returned no token")
        return token

    # -- the one retry layer -----------------------------------------------------------------
    def send(self, method: str, url: str, *, what: str, headers: dict | None = None,
             body: Callable[[], object] | None = None, params=None, stream: bool = False, retry: bool = True,
             authorize: bool = True, follow: bool | None = None, deadline: float | None = None,
             raise_network: bool = False) -> requests.Response:
        """Send one request, with retries (connection errors, 429, 5xx) within the policy's deadline,
        following redirects for GET/HEAD by hand so that each hop is checked: no plain HTTP beyond
        loopback or the --insecure registry, and the registry's Authorization only to its own origin.
        `body` is a factory, called once per attempt, so a retry resends from the start.
        Returns the last response whatever its status; `raise_network` re-raises the last network
        error instead of a RegistryError (the /v2/ probe wants to tell TLS problems apart)."""
        policy = self.policy
        start = time.monotonic()
        deadline = deadline if deadline is not None else start + policy.deadline
        attempts = policy.retries + 1 if retry else 1
        follow = method in ("GET", "HEAD") if follow is None else follow
        attempt = 0
        while True:
            target, hops = url, 0
            try:
                while True:
                    self._check_scheme(target)
                    h = dict(headers or {})
                    if authorize and self._authorization and self._base is not None and self.same_origin(target):
                        h["Authorization"] = self._authorization
                    elif authorize:
                        h.pop("Authorization", None)
                    left = max(deadline - time.monotonic(), 1.0)
                    resp = self.session.request(
                        method, target, headers=h, data=body() if body else None, proxies=_proxies(target),
                        params=params if hops == 0 else None, stream=stream, allow_redirects=False,
                        timeout=(min(policy.connect_timeout, left), min(policy.read_timeout, left)))
                    if not (follow and resp.is_redirect and resp.headers.get("Location")):
                        break
                    hops += 1
                    resp.close()
                    if hops > MAX_REDIRECTS:
                        raise RegistryError(f"registry {self.registry}: {what}: more than {MAX_REDIRECTS} redirects")
                    target = urllib.parse.urljoin(target, resp.headers["Location"])
                    if not authorize:
                        headers = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
            except requests.exceptions.SSLError as e:
                if raise_network:
                    raise
                raise RegistryError(f"registry {self.registry}: {what}:{_hop(url, target)} TLS error "
                                    f"({_short(e)})") from None
            except NETWORK_ERRORS as e:
                attempt += 1
                if attempt >= attempts or time.monotonic() + policy.delay(attempt - 1) >= deadline:
                    if raise_network:
                        raise
                    raise RegistryError(f"registry {self.registry}: {what}:{_hop(url, target)} connection failed "
                                        f"after {attempt} attempt{'s' * (attempt > 1)} ({_short(e)})") from None
                self.sleep(attempt - 1)
                continue
            if resp.status_code in RETRY_STATUS:
                attempt += 1
                if attempt < attempts and time.monotonic() + policy.delay(attempt - 1) < deadline:
                    resp.close()
                    self.sleep(attempt - 1)
                    continue
            return resp

    def request(self, method: str, path: str, *, what: str, ok: Iterable[int] = (200,),
                headers: dict | None = None, body: Callable[[], object] | None = None,
                params: dict | None = None, stream: bool = False, retry: bool = True,
                allow: Iterable[int] = ()) -> requests.Response:
        """One API call. Statuses in `ok` are returned, and so are those in `allow` (e.g. 404 for
        HEAD); anything else raises one line naming the registry and what failed."""
        ok, allow = set(ok), set(allow)
        url = path if "://" in path else self.url(path)
        auth_rounds = 0
        while True:
            used = self._authorization
            resp = self.send(method, url, what=what, headers=headers, body=body, params=params, stream=stream,
                             retry=retry)
            if resp.status_code == 401 and auth_rounds < 2 and self.same_origin(resp.url or url):
                auth_rounds += 1
                resp.close()
                self._authenticate(resp, used)
                continue
            if resp.status_code in ok or resp.status_code in allow:
                return resp
            detail = error_detail(resp)
            resp.close()
            if resp.status_code == 401:
                if not self.same_origin(resp.url or url):
                    raise AuthError(f"registry {self.registry}: {what}: {printable(_netloc(resp.url or url))} "
                                    "asked for credentials, which belong to the registry only (HTTP 401)", 401)
                raise self._refused() if self.credentials else AuthError(
                    f"registry {self.registry}: {what}: authentication required (HTTP 401)", 401)
            if resp.status_code == 403:
                raise AuthError(f"registry {self.registry}: {what}: access denied (HTTP 403: {detail})", 403)
            raise RegistryError(f"registry {self.registry}: {what}: HTTP {resp.status_code} ({detail})",
                                resp.status_code)

    def close(self) -> None:
        self.session.close()


def _deadline_from_env(default: float) -> float:
    """FSDGIMG_REGISTRY_TIMEOUT=SECONDS: how long a request may go unanswered, retries included."""
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 3600:
        raise UsageError(f"{TIMEOUT_ENV}={printable(text)[:40]!r}: expected seconds between 1 and 3600")
    return value


def _hop(url: str, target: str) -> str:
    """' redirected to HOST:' when a redirect took the request elsewhere (a blob mirror, a CDN): the
    host that failed is the one an operator has to look at, not the registry."""
    if origin_of(url) == origin_of(target):
        return ""
    return f" redirected to {printable(_netloc(target))}:"


def _netloc(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc.rpartition("@")[2]


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
        return printable(m.group(1).strip())
    for marker in ("Read timed out", "Connection aborted", "Connection reset by peer", "RemoteDisconnected",
                   "certificate verify failed", "IncompleteRead", "wrong version number", "timed out"):
        if marker in text:
            return marker.lower() if marker[0].isupper() and " " in marker else marker
    return printable(f"{type(e).__name__}: {text}")[:160]
