"""Visual features: the memory-mapped store, CNN extractors, region-feature importers, shard merging."""
