"""ActivityPub protocol library for Likewise.

A library: it never imports `server`, SQLModel, SQLAlchemy or Starlette, and does
no work at import time. Modules: errors, keys, signatures, proofs, vocab, jsonld,
builders, webfinger, nodeinfo, client, delivery.
"""
