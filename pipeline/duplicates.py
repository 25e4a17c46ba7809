"""Duplicate checks: the same page under another URL, or the same text again.

`DuplicateIndex` holds what has been kept (this run and, loaded at start, the
warehouse): canonical URL -> id and content hash -> id. The first copy kept wins;
a later copy becomes a Reject pointing at it (`duplicate_of`).
"""

from __future__ import annotations

from pipeline.record import Article, Record, Reject, record_id


class DuplicateIndex:
    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.hashes: dict[str, str] = {}

    @classmethod
    def from_warehouse(cls, warehouse: str) -> DuplicateIndex:
        from warehouse.query import dataset

        index = cls()
        table = dataset(warehouse, "articles").to_table(
            columns=["id", "canonical_url", "content_hash"]
        )
        for row in table.to_pylist():
            index.urls.setdefault(row["canonical_url"], row["id"])
            if row["content_hash"]:
                index.hashes.setdefault(row["content_hash"], row["id"])
        return index

    def check(self, article: Article) -> Record:
        """The article itself if it is new (and remember it), else a duplicate Reject."""
        kept = self.urls.get(article.canonical_url)
        if kept is not None:
            return self._reject(
                article, "duplicate_url", f"same canonical URL as {kept}", kept, 1.0
            )
        kept = self.hashes.get(article.content_hash)
        if kept is not None:
            return self._reject(article, "duplicate_content", f"same text as {kept}", kept, 1.0)
        self.urls[article.canonical_url] = article.id
        self.hashes[article.content_hash] = article.id
        return article

    @staticmethod
    def _reject(article: Article, reason: str, detail: str, kept: str, similarity: float) -> Reject:
        return Reject(
            id=record_id(article.url),
            url=article.url,
            source=article.source,
            reason=reason,
            detail=detail,
            fetched_at=article.fetched_at,
            http_status=article.http_status,
            title=article.title,
            text=article.text,
            lang=article.lang,
            lang_score=article.lang_score,
            duplicate_of=kept,
            similarity=similarity,
        )
