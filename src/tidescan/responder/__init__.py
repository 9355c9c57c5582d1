"""tidescanned: a user-mode network responder (masscanned's behaviour, in Python, and beyond).

Entry point `tidescan.responder.cli:main`; the sans-IO core is `core.Responder`
(`respond(frame) -> list[bytes]`), built from one module per layer (`l2_*`, `l3_*`, `l4_*`) and
per application protocol (`proto_*`, routed by `dispatch`).  See docs/tidescanned.md.
"""
