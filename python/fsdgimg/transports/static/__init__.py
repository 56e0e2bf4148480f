"""The static registry: a tree of plain files that any web server serves as the read side of the
OCI distribution API (layout.py), its writer, its garbage collector, its index.html (page.py, which
shows signers through signers.py), its web configurations and `fsdgimg serve`; read.py and sink.py
are the static: transport's reader and writer.

May import: the rest of transports/, oci, signature. Never trust/: the page reads signature formats
and the keys the tree records, it does not ask trust to verify.
"""
