"""Tests of fsdgimg build/list: catalog, builders, Guix driver, --check and its report."""
