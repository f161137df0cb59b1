"""Eclipse Sparkplug B 3.0, the second wire encoding (docs/sparkplug.md): what both sides share.

``convention`` holds what the gateway's encoder (``edge_agent/sparkplug``) and any host must
agree on: topics, metric names, property keys, value codecs. ``decode`` turns Sparkplug
messages back into the JSON v1 models (``wire/json_v1.py``) in the cloud.
``sparkplug_b_pb2`` is generated from the official Tahu schema ``sparkplug_b.proto`` by protoc
(grpcio-tools, pinned in the ``test`` extra); never edit it by hand.
"""
