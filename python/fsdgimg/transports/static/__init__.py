"""The static registry: a tree of plain files that any web server serves as the read side of the
OCI distribution API (layout.py), its writer, its garbage collector and its web configurations."""
