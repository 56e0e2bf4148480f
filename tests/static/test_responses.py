"""What every server of a static tree answers (fsdgimg/transports/static/responses.py is the one source): cache
semantics, the distribution API's JSON errors, 405 for writes, content discovery (referrers)."""

from __future__ import annotations

import json

import pytest

from fsdgimg.transports.static import responses
from fsdgimg.transports.static.writer import StaticPublisher
from static.conftest import fetch, referrer_image, sha256

MISSING = "sha256:" + "0" * 64


def _manifest_digest(server, name, tag):
    return fetch(server.port, f"/v2/{name}/manifests/{tag}").headers["docker-content-digest"]


def test_cache_semantics(server, images):
    digest = images.digest(images.a)
    manifest = json.loads(fetch(server.port, f"/v2/static/a/manifests/{digest}").body)
    immutable = [f"/v2/static/a/manifests/{digest}", f"/v2/static/a/blobs/{manifest['layers'][0]['digest']}"]
    revalidated = ["/v2/static/a/manifests/v1", "/v2/static/a/tags/list", "/v2/_catalog", "/v2/", "/",
                   f"/v2/static/a/referrers/{digest}"]
    for path in immutable:
        for method in ("GET", "HEAD"):
            r = fetch(server.port, path, method)
            assert r.status == 200 and r.headers["cache-control"] == responses.IMMUTABLE, (method, path, r)
    for path in revalidated:
        for method in ("GET", "HEAD"):
            r = fetch(server.port, path, method)
            assert r.status == 200 and r.headers["cache-control"] == responses.REVALIDATE, (method, path, r)
            if server.name == "caddy" and path.endswith("/manifests/v1"):
                continue  # Caddy's templates drop validators: revalidation is a full GET there
            assert "etag" in r.headers or "last-modified" in r.headers, (path, r)
        if server.name == "caddy" and path.endswith("/manifests/v1"):
            continue
        # the validator works: a cache revalidating an unchanged resource gets 304
        r = fetch(server.port, path)
        if "etag" in r.headers:
            again = fetch(server.port, path, headers={"If-None-Match": r.headers["etag"]})
        else:
            again = fetch(server.port, path, headers={"If-Modified-Since": r.headers["last-modified"]})
        assert again.status == 304 and again.body == b"", (path, again)
    # a tag names its digest like the digest's own location does, but is never immutable
    tag = fetch(server.port, "/v2/static/a/manifests/v1")
    assert tag.headers["docker-content-digest"] == digest and sha256(tag.body) == digest


@pytest.mark.parametrize("path,code", [
    ("/v2/static/a/manifests/nope", "MANIFEST_UNKNOWN"),
    (f"/v2/static/a/manifests/{MISSING}", "MANIFEST_UNKNOWN"),
    ("/v2/no/such/manifests/v1", "NAME_UNKNOWN"),
    (f"/v2/static/a/blobs/{MISSING}", "BLOB_UNKNOWN"),
    ("/v2/no/such/tags/list", "NAME_UNKNOWN"),
    ("/v2/static/a/blobs/uploads/", "NOT_FOUND"),
    ("/v2/Bad_Name/manifests/v1", "NOT_FOUND"),
])
def test_errors_are_the_apis_json(server, path, code):
    r = fetch(server.port, path)
    assert r.status == 404, r
    assert r.headers["content-type"].startswith("application/json"), r
    assert r.json()["errors"][0]["code"] == code, r
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"
    assert "docker-content-digest" not in r.headers
    assert r.headers.get("cache-control") == responses.ERROR, r
    head = fetch(server.port, path, "HEAD")
    assert head.status == 404 and head.body == b"" and "docker-content-digest" not in head.headers


@pytest.mark.parametrize("method,path", [
    ("POST", "/v2/static/a/blobs/uploads/"),
    ("PUT", "/v2/static/a/manifests/v1"),
    ("PUT", "/v2/static/a/manifests/new"),
    ("DELETE", "/v2/static/a/manifests/v1"),
    ("DELETE", f"/v2/static/a/blobs/{MISSING}"),
    ("PATCH", "/v2/static/a/blobs/uploads/x"),
    ("POST", "/v2/"),
])
def test_writes_are_refused_with_405(server, images, method, path):
    body = b'{"schemaVersion":2}' if method in ("PUT", "POST", "PATCH") else None
    r = fetch(server.port, path, method, body=body)
    assert r.status == 405, r
    assert r.json()["errors"][0]["code"] == "UNSUPPORTED"
    assert "GET" in r.headers["allow"] and "PUT" not in r.headers["allow"]
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"
    assert "docker-content-digest" not in r.headers
    # and nothing changed
    assert fetch(server.port, "/v2/static/a/manifests/v1").headers["docker-content-digest"] == images.digest(images.a)


def test_referrers(server, images, tree, tmp_path):
    digest = images.digest(images.a)
    # nothing refers to the multi-platform index: an empty OCI index, never a 404
    multi = images.digest(images.multi)
    r = fetch(server.port, f"/v2/static/multi/referrers/{multi}")
    assert r.status == 200 and r.headers["content-type"] == responses.REFERRERS_MEDIA_TYPE
    assert r.json() == responses.EMPTY_REFERRERS
    r = fetch(server.port, f"/v2/static/a/referrers/{digest}")
    assert r.status == 200 and r.headers["content-type"] == responses.REFERRERS_MEDIA_TYPE
    listed = r.json()["manifests"]
    assert [d["artifactType"] for d in listed] == ["application/vnd.example.signature"]
    sig = fetch(server.port, f"/v2/static/a/manifests/{listed[0]['digest']}")
    assert sig.status == 200 and json.loads(sig.body)["subject"]["digest"] == digest
    assert len(sig.body) == listed[0]["size"] and sha256(sig.body) == listed[0]["digest"]


@pytest.fixture(scope="module", autouse=True)
def _referrer(tree, images, tmp_path_factory):
    """A signature-like artifact whose subject is static/a:v1, published by the static writer."""
    digest = images.digest(images.a)
    size = len((images.a / "blobs" / "sha256" / digest.split(":")[1]).read_bytes())
    subject = {"mediaType": images.media_type(images.a), "digest": digest, "size": size}
    image = referrer_image(tmp_path_factory.mktemp("referrer"), subject)
    report = StaticPublisher(tree).publish(image, "static/a", None)
    assert f"v2/static/a/_referrers/{digest}.json" in report.files_rewritten


@pytest.mark.parametrize("kind", ["fsdgimg-serve", "caddy"])
def test_pagination_with_link(kind, servers):
    """n= and last= on the catalog and tag lists, with a Link to the next page: `fsdgimg serve`, and
    Caddy through its template (nginx and Apache return the whole list: docs/publish.md)."""
    server = servers(kind)
    r = fetch(server.port, "/v2/_catalog?n=1")
    assert r.status == 200 and r.json() == {"repositories": ["other/a"]}, r
    assert r.headers["link"] == '</v2/_catalog?n=1&last=other%2Fa>; rel="next"'
    assert r.headers["cache-control"] == responses.REVALIDATE
    assert fetch(server.port, "/v2/_catalog?n=1&last=other%2Fa").json() == {"repositories": ["static/a"]}
    r = fetch(server.port, "/v2/_catalog?n=2&last=static%2Fa")
    assert r.json() == {"repositories": ["static/d2", "static/multi"]} and "link" not in r.headers
    r = fetch(server.port, "/v2/_catalog?n=10")
    assert r.json() == {"repositories": ["other/a", "static/a", "static/d2", "static/multi"]} and "link" not in r.headers
    r = fetch(server.port, "/v2/static/a/tags/list?n=0")
    assert r.status == 200 and r.json() == {"name": "static/a", "tags": []}
    assert fetch(server.port, "/v2/static/a/tags/list?last=v0").json() == {"name": "static/a", "tags": ["v1"]}
    assert fetch(server.port, "/v2/static/a/tags/list?last=v1").json() == {"name": "static/a", "tags": []}
    assert fetch(server.port, "/v2/static/a/tags/list?n=x").status == 400
    assert fetch(server.port, "/v2/nope/tags/list?n=1").json()["errors"][0]["code"] == "NAME_UNKNOWN"
