"""Mirroring: `fsdgimg sync` copies every tag of a repository (or a whole tree) between registries
and static trees (sync.py), and carries each image's trust with it (carry.py: cosign signatures,
attachments, OpenPGP lookaside signatures and signer records).

May import: trust, transports, signature, oci. Never build/ or commands/.
"""
