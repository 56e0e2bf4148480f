"""fsdgimg: official container images for FSDG distributions, built, proven reproducible and published.

The core API every command builds on is described in docs/core-api.md (repository root).
"""

__version__ = "0.1.0"
