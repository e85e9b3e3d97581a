"""Runtime state around the matching pipeline.

The live blocklist and its durable store, the catalogue index and retroactive sweeps,
micro-batching, and the bundle registry.
"""
