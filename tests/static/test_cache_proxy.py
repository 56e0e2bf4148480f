"""A caching reverse proxy (nginx proxy_cache, which honours Cache-Control) in front of each server:
a moved tag is seen by the next pull through the cache, a blob is served from the cache the second
time, and a 404 is not remembered."""

from __future__ import annotations

import json
import shutil

import pytest
from servers import Nginx, free_port, have

from static.conftest import SERVERS, fetch, public_tree, publish, start


class CachingProxy(Nginx):
    """nginx caching what `upstream` (host:port) answers, as a CDN node or a site proxy would, with
    X-Cache-Status telling HIT, MISS, EXPIRED or REVALIDATED."""

    def __init__(self, workdir, upstream: str, cache):
        port = free_port()  # the cache must be a directory nginx's workers (nobody) can write
        block = (f"proxy_cache_path {cache} levels=1:2 keys_zone=fsdgimg_test:1m max_size=1g inactive=1h "
                 f"use_temp_path=off;\n"
                 f"server {{\n  listen 127.0.0.1:{port};\n  location / {{\n"
                 f"    proxy_pass http://{upstream};\n    proxy_http_version 1.1;\n"
                 f"    proxy_set_header Connection \"\";\n    proxy_cache fsdgimg_test;\n"
                 f"    proxy_cache_revalidate on;\n"
                 f"    add_header X-Cache-Status $upstream_cache_status always;\n  }}\n}}\n")
        super().__init__(workdir, block, port)


@pytest.mark.parametrize("kind", SERVERS)
def test_tag_moves_are_seen_through_a_cache_and_blobs_are_cached(kind, images, skopeo, tmp_path):
    if not have("nginx"):
        pytest.skip("nginx is not installed")
    base = public_tree("cache")
    tree = base / "tree"
    publish(images, images.a, tree, "cache/x")  # cache/x:v1
    server = start(kind, tree, tmp_path / kind)
    try:
        with CachingProxy(tmp_path / "proxy", f"127.0.0.1:{server.port}", base / "cache") as proxy:
            host = f"127.0.0.1:{proxy.port}"
            old, new = images.digest(images.a), images.digest(images.b)
            assert skopeo.digest(f"docker://{host}/cache/x:v1") == old
            manifest = json.loads(fetch(proxy.port, f"/v2/cache/x/manifests/{old}").body)
            blob = f"/v2/cache/x/blobs/{manifest['layers'][0]['digest']}"
            first, second = fetch(proxy.port, blob), fetch(proxy.port, blob)
            assert first.headers["x-cache-status"] in ("MISS", "HIT") and second.headers["x-cache-status"] == "HIT"
            assert second.body == first.body and len(second.body) == manifest["layers"][0]["size"]
            assert fetch(proxy.port, f"/v2/cache/x/manifests/{old}").headers["x-cache-status"] == "HIT"
            # a tag about to be published: 404 now, and that 404 is not kept
            missing = fetch(proxy.port, "/v2/cache/x/manifests/v2")
            assert missing.status == 404 and missing.json()["errors"][0]["code"] == "MANIFEST_UNKNOWN"
            for _ in range(2):  # tags are never answered from the cache without asking
                assert fetch(proxy.port, "/v2/cache/x/manifests/v1").headers["x-cache-status"] != "HIT"
            # move v1 and publish v2: the very next pull through the cache sees both (the documented
            # time is zero: tags are no-cache)
            publish(images, images.b, tree, "cache/x", "--additional-tag", "v1")
            assert skopeo.digest(f"docker://{host}/cache/x:v1") == new
            assert skopeo.digest(f"docker://{host}/cache/x:v2") == new
            tags = fetch(proxy.port, "/v2/cache/x/tags/list")
            assert tags.json()["tags"] == ["v1", "v2"] and tags.headers["x-cache-status"] != "HIT"
            skopeo.copy(f"docker://{host}/cache/x:v1", f"oci:{tmp_path / 'pulled'}:v1")
            assert proxy.error_log().count("[crit]") == 0
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
