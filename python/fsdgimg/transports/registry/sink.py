"""Writer for registries (docker://HOST[:PORT]/NAME[:TAG|@DIGEST]): the push of fsdgimg.transports.registry."""

from __future__ import annotations

from fsdgimg.errors import UsageError
from fsdgimg.oci.mutate import realized
from fsdgimg.oci.reference import Reference
from fsdgimg.transports.options import Written, default_tag


def write(artifact, loc, options) -> Written:
    from fsdgimg.transports.registry.connect import connect, serves
    from fsdgimg.transports.registry.push import push
    from fsdgimg.transports.registry.state import PushState
    opts = options.registry
    if opts.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    ref = loc.reference
    if ref.tag is None and ref.digest is None:
        ref = Reference(ref.registry, ref.name, default_tag(artifact, options))
    borrowed = opts.client if serves(opts.client, ref.registry, ref.name) else None
    with realized(artifact) as image:
        client = borrowed or connect(ref.registry, ref.name, opts, push=True)
        try:
            report = push(image, ref, client, jobs=opts.jobs, mount_from=opts.mount_from,
                          state=PushState(enabled=opts.remember), progress=options.progress, unseen=opts.unseen,
                          additional_tags=options.additional_tags)
        finally:
            if borrowed is None:
                client.close()
    return Written(f"docker://{ref}", str(report.digest), report.to_json())
