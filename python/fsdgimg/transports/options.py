"""What a write is told and what it tells back: the options of the one writer (registry, static tree,
naming) and its result, shared by every sink and by everything that writes."""

from __future__ import annotations

from dataclasses import dataclass, field

from fsdgimg.oci.reference import check_name, check_tag


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
    # An open RegistryClient of the destination's registry to push with, left open: what is written
    # right after reading that registry (signatures, attachments) reuses its probed scheme, token and
    # connections instead of probing /v2/ again. Built from these same options (credentials stay its).
    client: object = None
    # Digests of blobs the caller has just made, which no registry can hold yet (they carry a signature
    # made this run): pushed without asking the registry first (push.Pusher).
    unseen: frozenset = frozenset()


@dataclass
class StaticOptions:
    fsync: bool = True
    link: bool = True
    web: dict | None = None  # server_name, listen, public_host; None keeps the tree's last ones


@dataclass
class WriteOptions:
    """How to name and write. `name` (NAME[:TAG]) names the image where the location does not
    (static:); `tag` is the default tag (else the image's own, else latest); `additional_tags`
    name the same image too (registries and static trees)."""
    name: str | None = None
    tag: str | None = None
    additional_tags: list[str] = field(default_factory=list)
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    static: StaticOptions = field(default_factory=StaticOptions)
    progress: object = None  # a fsdgimg.progress.Progress, or None


@dataclass
class Written:
    destination: str  # e.g. oci:DIR:TAG, docker://host/name:tag, static:DIR/name:tag
    digest: str       # of the manifest or index written, for every destination
    report: dict

    def __str__(self) -> str:
        return f"{self.destination} {self.digest}"


Published = Written  # the name this result had before every destination shared it


def split_name(text: str, default_tag: str | None) -> tuple[str, str | None]:
    """NAME[:TAG] (no registry host: a static tree has none)."""
    head, slash, last = text.rpartition("/")
    last, colon, tag = last.partition(":")
    return check_name(head + slash + last), (check_tag(tag) if colon else default_tag)


def default_tag(artifact, options: WriteOptions) -> str:
    return options.tag or artifact.tag or "latest"
