"""What every server of a static tree answers, in one place: nginx, Apache and Caddy (through the
templates in fsdgimg/templates), `fsdgimg serve`, and the Guix static-registry service (which includes
`fsdgimg web-config nginx --locations-only`) all take their cache semantics, error bodies and allowed
methods from here.

Cache semantics (what a CDN or caching proxy in front of any of them does):
- content addressed by digest (blobs, manifests by digest) never changes: cached for a year, `immutable`;
- what a publish changes (tags, tag lists, the catalog, referrers, `/v2/`, the page) is `no-cache`: a cache
  may keep it but must revalidate (every server sends `ETag`/`Last-Modified`), so a moved tag is seen by
  the next pull through any cache that honours HTTP;
- errors are `no-store` and never carry `Docker-Content-Digest`: a 404 for a tag about to be published
  must not outlive the publish;
- OpenPGP signatures in lookaside storage (`/sigstore/NAME@sha256=HEX/signature-N`) never change once
  written (another signature is another N, and gc removes them only with their manifest): immutable. A
  client reads signature-1, -2, ... up to the first 404, and that 404 is an error like the others,
  `no-store`, so a signature added later is seen at once.
"""

from __future__ import annotations

import json

from fsdgimg.oci import mediatypes as mt

API_VERSION = "registry/2.0"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
ERROR = "no-store"

ALLOW = "GET, HEAD, OPTIONS"
READ_METHODS = ("GET", "HEAD")

# code -> (HTTP status, message): the distribution API's error codes a read-only tree answers with.
ERRORS = {
    "MANIFEST_UNKNOWN": (404, "manifest unknown to this registry"),
    "BLOB_UNKNOWN": (404, "blob unknown to this registry"),
    "NAME_UNKNOWN": (404, "repository name not known to this registry"),
    "NOT_FOUND": (404, "no such resource in the distribution API"),
    "RANGE_INVALID": (416, "the requested range is not satisfiable"),
    "PAGINATION_NUMBER_INVALID": (400, "the n parameter must be a number"),
    "UNSUPPORTED": (405, "this registry is a read-only static tree: publish with fsdgimg publish --to static:DIR"),
}

SIGNATURE_MEDIA_TYPE = "application/octet-stream"   # an OpenPGP message; clients read the bytes only
SIGNATURE_CACHE = IMMUTABLE

# The referrers API answers an empty index for a subject nothing refers to (never 404).
REFERRERS_MEDIA_TYPE = mt.OCI_INDEX
EMPTY_REFERRERS = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}


def error_body(code: str) -> str:
    """The JSON body of an error, compact and free of quotes other than JSON's own and of '$' and '\\'
    (it is written into nginx and Caddy configurations as a literal string)."""
    return json.dumps({"errors": [{"code": code, "message": ERRORS[code][1], "detail": None}]},
                      separators=(",", ":"))


def status(code: str) -> int:
    return ERRORS[code][0]


def error_documents() -> dict[str, str]:
    return {code: error_body(code) for code in ERRORS}
