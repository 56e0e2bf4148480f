"""The FSDG license audit: is every package of an image free software?

    Bom ──► per-distribution rules (archive components) ──┐
        └─► license expression vs the FSF free-license list ┴─► free / nonfree / unknown ──► report

The license data comes from maintained data packages (their versions are in every report); no
list of licenses is kept by hand here.

May import: sbom (the Bom it judges) and the rooms below it (transports, signature, oci, the plumbing).
Never trust, build, mirror or commands: they call the audit.
"""
