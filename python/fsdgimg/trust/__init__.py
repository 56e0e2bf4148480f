"""Trust: signing (cosign's format and OpenPGP simple signing with lookaside storage), attaching
reports as OCI 1.1 artifacts and listing them (referrers API or tag schema), the containers policy
clients need, and `verify`. What is signed is always the manifest digest, together with the
reference.

Owns: deciding what is signed and by whom. May import: transports (it reads and writes through
them), signature, sbom, audit, oci. Never build/ or mirror/ (verify's rebuild is handed in as a hook,
build/rebuild.py), and never the static tree's internals beyond its layout and writer.
"""
