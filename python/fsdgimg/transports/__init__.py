"""Where images live, read and written: one module (or package) per transport in skopeo's syntax —
oci: (layout.py), docker-archive: (archive.py), root file systems (rootfs.py, read only),
docker:// (registry/: the distribution-API client, pull and push) and static: (static/: the static
registry tree, its page, gc, web configurations and `serve`). location.py parses a location,
kinds.py says which module writes each kind, read.py opens any source, write.py is the one writer
(options.py holds its options and result), convert.py is open + prepare + write.

Owns: moving the image model in and out. May import: oci, signature (the page shows signature
formats), catalog, platforms, guix, errors, progress. Never trust/, build/ or mirror/.
"""
