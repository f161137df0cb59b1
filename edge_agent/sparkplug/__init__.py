"""Eclipse Sparkplug B 3.0, the second wire encoding (docs/sparkplug.md).

``encoder`` turns the agent's batches into NBIRTH/DBIRTH/DDATA/NDEATH on the gateway;
``decode`` turns them back into the JSON v1 models (edge_agent/wire.py) in the cloud;
``convention`` holds what both must agree on: topics, metric names, property keys, value codecs.
``sparkplug_b_pb2`` is generated from the official Tahu schema ``sparkplug_b.proto`` by protoc
(grpcio-tools, pinned in the ``test`` extra); never edit it by hand.
"""
