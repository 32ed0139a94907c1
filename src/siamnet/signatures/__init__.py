"""Signature verification on siamnet's core: collections and SigNet's pair protocol
(:mod:`.collections`), the training entry point (:mod:`.train`), and writer-dependent
verification against enrolled references (:mod:`.verify`).  The ``signature`` kind itself is
:mod:`siamnet.kinds.signature`."""
