"""Image signatures: sigstore-style key pairs in the format cosign and containers/image share
(a simple-signing payload in the `sha256-<hex>.sig` image), and OpenPGP simple signing with
lookaside storage. What is signed is always the manifest digest, together with the reference."""
