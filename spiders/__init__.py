"""The spiders and their helpers: discovery of article URLs, crawl safety, the seen-URL index."""
