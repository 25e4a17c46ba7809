"""winnow: news sites in, a clean, queryable text warehouse out."""

__version__ = "0.1.0"
