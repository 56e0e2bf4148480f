"""Writer for static trees (static:DIR): the publisher of fsdgimg.transports.static, named by --name NAME[:TAG]."""

from __future__ import annotations

from fsdgimg.errors import UsageError
from fsdgimg.oci.mutate import realized
from fsdgimg.oci.reference import check_name
from fsdgimg.transports.options import Written, default_tag, split_name


def write(artifact, loc, options) -> Written:
    from fsdgimg.transports.static.writer import StaticPublisher
    tag = default_tag(artifact, options)
    if loc.reference is not None:          # static:DIR/NAME[:TAG]
        if options.name:
            raise UsageError(f"{loc} names the image already; --name is for static:DIR")
        name, tag = loc.reference.name, loc.reference.tag or tag
    else:
        name, tag = split_name(options.name, tag) if options.name else (artifact.name, tag)
    if not name:
        raise UsageError(f"{artifact.where}: the image has no name of its own: give --name NAME[:TAG]")
    name = check_name(name)
    opts = options.static
    web = opts.web if opts.web and any(opts.web.values()) else None
    root = loc.path
    with realized(artifact, root.resolve().parent) as image:
        report = StaticPublisher(root, fsync=opts.fsync, web_options=web, link=opts.link).publish(
            image, name, tag, options.additional_tags)
    return Written(f"static:{root}/{name}:{tag}", report.digest, dict(report.__dict__))
