"""Building images from the catalog: the pipeline (build → import → check → annotate → write →
publish), the builders (builders/: mmdebstrap/debootstrap, pacstrap, Guix), the reproducibility
check (check/), multi-platform builds, the trust stages run inside a build (trust_stage.py: SBOM,
audit, signing what was published), fetched keyrings and `verify --rebuild` (rebuild.py).

May import: everything below it (trust, audit, sbom, transports, signature, oci, catalog, platforms,
guix). Never mirror/ or commands/.
"""

EXTRA_DIR = "fsdgimg"          # provenance and reports, inside the OCI layout directory
