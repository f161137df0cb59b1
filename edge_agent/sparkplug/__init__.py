"""The gateway's Sparkplug B 3.0 encoder (docs/sparkplug.md): NBIRTH/DBIRTH/DDATA/NDEATH from
the agent's batches, and the bdSeq kept across restarts. The schema, the naming convention and
the decoder that both sides share live in ``wire/sparkplug``.
"""
