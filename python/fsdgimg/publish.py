"""Publishing an opened Image or Index to any destination: one entry point for `fsdgimg publish`,
`fsdgimg build --publish` and library users.

    docker://HOST[:PORT]/NAME[:TAG|@DIGEST]   a registry (fsdgimg.registry)
    static:DIR                                a static tree (fsdgimg.static), NAME[:TAG] from `name`/`tag`
    oci:DIR[:TAG], docker-archive:FILE        the image core's writers
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fsdgimg.errors import UsageError
from fsdgimg.image import Artifact
from fsdgimg.reference import Reference, check_name, check_tag
from fsdgimg.transport import Location, parse


@dataclass
class RegistryOptions:
    username: str | None = None
    password: str | None = None
    insecure: bool = False
    ca_file: str | None = None
    jobs: int = 4
    retries: int = 5
    mount_from: list[str] = field(default_factory=list)
    remember: bool = True  # blob locations and unfinished uploads, between runs


@dataclass
class StaticOptions:
    fsync: bool = True
    link: bool = True
    web: dict | None = None  # server_name, listen, public_host; None keeps the tree's last ones


@dataclass
class Published:
    destination: str  # e.g. docker://host/name:tag, static:DIR/name:tag
    digest: str
    report: dict

    def __str__(self) -> str:
        return f"{self.destination} {self.digest}"


def split_name(text: str, default_tag: str | None) -> tuple[str, str | None]:
    """NAME[:TAG] (no registry host: a static tree has none)."""
    head, slash, last = text.rpartition("/")
    last, colon, tag = last.partition(":")
    return check_name(head + slash + last), (check_tag(tag) if colon else default_tag)


def publish_artifact(artifact: Artifact, dest: str | Location, *, name: str | None = None, tag: str | None = None,
                     additional_tags: list[str] = (), registry: RegistryOptions | None = None,
                     static: StaticOptions | None = None, progress=None) -> Published:
    """Publish `artifact` to `dest`. `name` (NAME[:TAG]) and `tag` name it where the destination does
    not (static:, and the tag of oci: / docker://HOST/NAME); they default to the image's own.
    `additional_tags` (registries and static trees) name the same image too."""
    loc = parse(dest, for_writing=True) if isinstance(dest, str) else dest
    default_tag = tag or artifact.tag or "latest"
    extra = [check_tag(t) for t in additional_tags]
    if loc.kind == "docker":
        return _push(artifact, loc.reference, default_tag, registry or RegistryOptions(), progress, name, extra)
    if loc.kind == "static":
        image_name, image_tag = split_name(name, default_tag) if name else (artifact.name, default_tag)
        if not image_name:
            raise UsageError(f"{artifact.where}: the image has no name of its own: give --name NAME[:TAG]")
        return _static(artifact, loc.path, check_name(image_name), image_tag, static or StaticOptions(), extra)
    if extra:
        raise UsageError(f"--additional-tag is for docker:// and static: destinations, not {loc.kind}:")
    if name:
        raise UsageError(f"--name is for static: destinations; {loc} names the image itself")
    if loc.kind == "oci":
        from fsdgimg.sinks.oci_layout import write_oci_layout
        out_tag = loc.tag or default_tag
        stored = write_oci_layout(loc.path, artifact, out_tag)
        return Published(f"oci:{loc.path}:{out_tag}", str(stored.digest), {})
    if loc.kind == "docker-archive":
        from fsdgimg.sinks.docker_archive import write_docker_archive
        repo_tag = f"{artifact.name or 'image'}:{default_tag}"
        report = write_docker_archive(loc.path, artifact, repo_tag)
        return Published(f"docker-archive:{loc.path}", str(artifact.digest), report or {})
    raise UsageError(f"{loc}: cannot publish to a {loc.kind} location")


def _push(artifact: Artifact, ref: Reference, default_tag: str, opts: RegistryOptions, progress,
          name: str | None, extra: list[str]) -> Published:
    from fsdgimg.registry import RegistryClient, push
    from fsdgimg.registry.auth import find_credentials
    from fsdgimg.registry.state import PushState
    if name:
        raise UsageError("--name is for static: destinations; a docker:// destination names its repository")
    if opts.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if ref.tag is None and ref.digest is None:
        ref = Reference(ref.registry, ref.name, default_tag)
    creds = find_credentials(ref.registry, ref.name, username=opts.username, password=opts.password)
    client = RegistryClient(ref.registry, credentials=creds, insecure=opts.insecure, retries=max(0, opts.retries),
                            ca_file=opts.ca_file, connections=max(2, opts.jobs + 2))
    try:
        report = push(artifact, ref, client, jobs=opts.jobs, mount_from=opts.mount_from,
                      state=PushState(enabled=opts.remember), progress=progress, additional_tags=extra)
    finally:
        client.close()
    return Published(f"docker://{ref}", str(report.digest), report.to_json())


def _static(artifact: Artifact, root: Path, name: str, tag: str, opts: StaticOptions, extra: list[str]) -> Published:
    from fsdgimg.static.writer import StaticPublisher
    web = opts.web if opts.web and any(opts.web.values()) else None
    report = StaticPublisher(root, fsync=opts.fsync, web_options=web, link=opts.link).publish(artifact, name, tag, extra)
    return Published(f"static:{root}/{name}:{tag}", report.digest, dict(report.__dict__))
