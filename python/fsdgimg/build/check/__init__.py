"""fsdgimg build --check: rebuild, compare, report."""
