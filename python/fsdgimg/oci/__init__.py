"""The image model, after go-containerregistry's pkg/v1: digests, descriptors, media types,
manifests and indexes, images and their lazy layers, the content-addressed blob store, `mutate`
(changes that return a new lazy image and never write), image configs, references, and the
plumbing every format needs (compression, tar walking and its safety rules, bounded JSON).

Owns: what an OCI image *is*. May import: errors, progress (and nothing else of fsdgimg). Where an
image comes from or goes to is transports/; what it is signed with is signature/.
"""
