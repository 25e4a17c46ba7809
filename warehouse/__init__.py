"""The storage layer: one schema, Hive-partitioned zstd Parquet, atomic files, DuckDB views."""
