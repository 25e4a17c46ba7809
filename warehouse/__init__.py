"""The storage layer: one schema, Hive-partitioned zstd Parquet, atomic files, compaction, DuckDB views."""
