"""Readers: each turns one kind of input into the image model (fsdgimg.oci.image)."""
