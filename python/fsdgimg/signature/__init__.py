"""Signature and attachment formats, without I/O: cosign's simple-signing payloads and `.sig`
images, sigstore key pairs (cosign's key file format), and the OCI 1.1 artifact manifests of the
SBOM, audit and check reports.

Owns: the bytes a signature or attachment consists of. May import: oci (and errors). Signing,
pushing, listing and verifying are trust/; the static tree's page reads these formats directly.
"""
