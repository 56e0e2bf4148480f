"""fsdgimg index SRC... --to DEST: one multi-platform index from single-platform images."""

from __future__ import annotations

from fsdgimg.commands.options import (
    add_digestfile,
    add_image_options,
    add_json,
    add_source_registry,
    emit,
    image_options_from,
    source_registry_from,
)


def register(sub) -> None:
    p = sub.add_parser("index", help="assemble a multi-platform image index from single-platform images",
                       description="Assemble one OCI image index from the single-platform images SRC... "
                                   "(any location fsdgimg reads; one image per platform) and write it with "
                                   "its images to DEST (oci:DIR[:TAG], docker://HOST/NAME[:TAG], "
                                   "static:DIR with --name).")
    p.add_argument("srcs", nargs="+", metavar="SRC")
    p.add_argument("--to", required=True, metavar="DEST", dest="dest")
    p.add_argument("--tag", help="tag in the destination (default: latest)")
    p.add_argument("--name", metavar="NAME[:TAG]", help="static: repository and tag")
    add_digestfile(p, "index")
    add_image_options(p)
    add_source_registry(p, "SRC...")
    add_json(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from contextlib import ExitStack
    from pathlib import Path

    from fsdgimg.build import multiplatform
    from fsdgimg.errors import UsageError
    from fsdgimg.oci.assemble import assemble
    from fsdgimg.oci.mutate import annotate, recompress
    from fsdgimg.transports.convert import standard_annotations
    from fsdgimg.transports.location import parse
    from fsdgimg.transports.options import WriteOptions
    from fsdgimg.transports.read import open_source
    from fsdgimg.transports.write import write
    options = image_options_from(args)
    source = source_registry_from(args)
    if options.platform is not None:
        raise UsageError("--platform: each SRC says its own platform; an index holds them all")
    if args.digestfile:
        from fsdgimg.commands.options import check_output_file
        check_output_file(args.digestfile, "--digestfile")
    dest = parse(args.dest, for_writing=True)
    if dest.kind == "docker-archive":
        raise UsageError(f"{args.dest}: a docker archive holds one image, not an index")
    epoch = options.epoch()
    scratch = dest.path.resolve().parent if dest.path is not None else None
    with ExitStack() as stack:
        images = []
        for src in args.srcs:
            image = stack.enter_context(open_source(src, compression=options.import_compression,
                                                    scratch_parent=scratch, epoch=epoch,
                                                    progress=options.progress, registry=source))
            # Each image as `convert` would make it, so that its digest is the same in the index.
            images.append(annotate(image, standard_annotations(image, epoch, fill=image.fresh)))
        if multiplatform.are_builds(images):
            # per-architecture results of `fsdgimg build`: the index a single-host build writes
            index = multiplatform.index_of_builds(images, tag=options.tag)
        else:
            index = assemble(images, tag=options.tag)
        lazy = annotate(recompress(index, options.compression), options.annotations)
        written = write(lazy, dest, WriteOptions(name=args.name, tag=options.tag))
    if args.digestfile:
        Path(args.digestfile).write_text(written.digest)
    report = {"destination": written.destination, "digest": written.digest,
              "mediaType": "application/vnd.oci.image.index.v1+json",
              "manifests": [{"digest": str(i.digest), "platform": str(i.platform)} for i in images]}
    return emit(args, report, str(written))
