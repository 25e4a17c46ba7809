"""Scrapy settings for winnow: one place, with environment overrides.

`scrapy.cfg` points Scrapy here (`[settings] default = settings`), so plain
`scrapy crawl news` and `winnow crawl` share these. Every WINNOW_* and the
REDIS_URL variable below can be set in the environment.
"""

from __future__ import annotations

import os

from scrapy.settings import default_settings as _scrapy_defaults


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")


BOT_NAME = "winnow"
# The module of the one spider: listing the package would import all of it at every
# start, scrapy_redis (80 ms) with spiders.frontier, whether or not Redis is used.
# A spider of your own (`scrapy genspider` writes it into spiders/): add its module here.
SPIDER_MODULES = ["spiders.news"]
NEWSPIDER_MODULE = "spiders"

# --- winnow -------------------------------------------------------------------------
#: Where the warehouse lives: a directory or s3://bucket/prefix.
WINNOW_WAREHOUSE = os.environ.get("WINNOW_WAREHOUSE", "data")
#: The sources file (default: settings/sources.toml).
WINNOW_SOURCES = os.environ.get("WINNOW_SOURCES", "")
#: Fetch loopback, private and link-local addresses (tests and the demo turn this on).
WINNOW_ALLOW_PRIVATE = _env_bool("WINNOW_ALLOW_PRIVATE")
#: Fetch again URLs whose article is already in the warehouse.
WINNOW_REFRESH = _env_bool("WINNOW_REFRESH")
#: Cleaning workers (0: one per core) and the per-page time bound.
WINNOW_WORKERS = int(os.environ.get("WINNOW_WORKERS", "0"))
WINNOW_PAGE_TIMEOUT = float(os.environ.get("WINNOW_PAGE_TIMEOUT", "60"))
#: Quality rule thresholds for every source (JSON, e.g. '{"too_short": 80}'); a source's
#: [source.quality] table overrides them. Rules and defaults: pipeline/quality.py.
WINNOW_QUALITY = os.environ.get("WINNOW_QUALITY", "{}")
#: Language backend: langdetect (default) or fasttext.
WINNOW_LANGUAGE_BACKEND = os.environ.get("WINNOW_LANGUAGE_BACKEND", "langdetect")
#: Flush the warehouse buffers at this many rows or this age in seconds.
WINNOW_FLUSH_ROWS = int(os.environ.get("WINNOW_FLUSH_ROWS", "1000"))
WINNOW_FLUSH_SECONDS = float(os.environ.get("WINNOW_FLUSH_SECONDS", "30"))
#: Check near-duplicates and spun copies (URL and exact copies are always checked).
WINNOW_NEAR_DUPLICATES = _env_bool("WINNOW_NEAR_DUPLICATES", True)
#: New articles wait at most this long (default: the flush interval) so that the copy
#: kept among those of one window is chosen by rule (pipeline/duplicates.py).
WINNOW_DUPLICATE_HOLD_SECONDS = float(
    os.environ.get("WINNOW_DUPLICATE_HOLD_SECONDS", str(WINNOW_FLUSH_SECONDS))
)
#: ... or until this many are held. With WINNOW_FLUSH_ROWS, what bounds a fast crawl's
#: memory: held articles and buffered rows are the crawler's only per-page buffers. A
#: quarter of it held when nothing is left to fetch is decided then, while the last
#: pages are cleaned (pipeline/item_pipelines.py).
WINNOW_DUPLICATE_HOLD = int(os.environ.get("WINNOW_DUPLICATE_HOLD", "1000"))
#: Who to contact about this crawler; goes into the User-Agent.
WINNOW_CONTACT = os.environ.get("WINNOW_CONTACT", "https://github.com/winnow-news/winnow")
#: Who started the crawl, for the `runs` table: local (by hand), schedule or scrapyd.
WINNOW_RUNNER = os.environ.get("WINNOW_RUNNER", "local")

# --- politeness ---------------------------------------------------------------------
USER_AGENT = f"winnow/0.1 (+{WINNOW_CONTACT})"
ROBOTSTXT_OBEY = True
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = float(os.environ.get("WINNOW_START_DELAY", "0.5"))
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 4.0
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = int(os.environ.get("WINNOW_PER_DOMAIN", "8"))
DOWNLOAD_DELAY = 0
# Many sites in one crawl (Scrapy's broad-crawl advice): take the next request from the
# least busy site, and a site's articles in the order they were found (first first).
# The disk queue (JOBDIR) stays Scrapy's LIFO one: queuelib's FIFO disk queue saves its
# position only on a clean close, so after a SIGKILL it loses what it held.
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
# An article page yields one item, and a feed or sitemap yields requests (scheduled at
# once) or nothing; Scrapy starts this many tasks for every response's output whatever
# it yields, so its default (100) cost a third of the crawler's CPU.
CONCURRENT_ITEMS = 1
# The spider follows no links from article pages, so request depth means nothing here.
SPIDER_MIDDLEWARES = {"scrapy.spidermiddlewares.depth.DepthMiddleware": None}
DOWNLOAD_TIMEOUT = int(os.environ.get("WINNOW_DOWNLOAD_TIMEOUT", "30"))
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
# Limits apply to the decompressed size, so compression bombs stop here too.
DOWNLOAD_MAXSIZE = int(os.environ.get("WINNOW_MAXSIZE", str(10 * 1024 * 1024)))
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
REDIRECT_MAX_TIMES = 10
# News pages are fetched as a logged-out reader sees them. The cookies middleware is left
# out of Scrapy's base middlewares too: Scrapy imports every listed component, even a
# disabled one, and this one imports tldextract and requests, 60-80 ms of every crawl's
# start. To keep cookies, set COOKIES_ENABLED and list
# scrapy.downloadermiddlewares.cookies.CookiesMiddleware (700) in DOWNLOADER_MIDDLEWARES.
COOKIES_ENABLED = False
_cookies = "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v for k, v in _scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE.items() if k != _cookies
}
TELNETCONSOLE_ENABLED = False
# Scrapy 2.19's remote control runs Python code sent to a local HTTP port inside the
# crawl (the telnet console's successor): off like the console. Its extension is also
# left out of Scrapy's base extensions, as Scrapy imports every listed extension (even
# one mapped to None) and so its aiohttp server, about 0.1 s of every crawl's start.
REMOTE_CONTROL_ENABLED = False
_remote_control = "scrapy.extensions.remote_control.RemoteControl"
EXTENSIONS_BASE = {
    k: v for k, v in _scrapy_defaults.EXTENSIONS_BASE.items() if k != _remote_control
}
LOG_LEVEL = os.environ.get("WINNOW_LOG_LEVEL", "INFO")
STATS_CLASS = "spiders.stats.CrawlStats"

TWISTED_DNS_RESOLVER = "spiders.netguard.GuardedResolver"
DOWNLOADER_MIDDLEWARES = {
    "spiders.netguard.AddressGuardMiddleware": 50,
    "spiders.seen.SeenUrlsMiddleware": 60,
    # Around Scrapy's redirect (600) and meta-refresh (580) middlewares: loops become rejects.
    "spiders.redirects.SelfRefreshMiddleware": 585,
    "spiders.redirects.RedirectLoopMiddleware": 610,
}
EXTENSIONS = {
    "spiders.progress.Progress": 500,
    "spiders.garbage.GarbageCollection": 510,
}
#: Progress: a live line on a terminal; otherwise a log line every this many seconds.
WINNOW_PROGRESS_EVERY = float(os.environ.get("WINNOW_PROGRESS_EVERY", "10"))
ITEM_PIPELINES = {
    "pipeline.item_pipelines.CleanPipeline": 100,
    "pipeline.item_pipelines.DuplicatePipeline": 200,
    "pipeline.item_pipelines.WarehousePipeline": 300,
}

# --- scale-out: a shared frontier in Redis -------------------------------------------
# Every `scrapy crawl news` / `winnow crawl` process started with the same REDIS_URL
# (here, or in scrapyd's environment) takes part in one crawl: the first pushes the
# entry points, the others join, and no page is fetched twice (spiders/frontier.py).
REDIS_URL = os.environ.get("REDIS_URL", "")
#: Redis keys of a crawl start with this (%(spider)s is the spider's name).
WINNOW_FRONTIER_KEY = os.environ.get("WINNOW_FRONTIER_KEY", "winnow:%(spider)s")
#: Seconds between a process's heartbeats; six missed ones and it counts as gone.
WINNOW_FRONTIER_HEARTBEAT = float(os.environ.get("WINNOW_FRONTIER_HEARTBEAT", "5"))
#: How long an interrupted crawl's queue and filter wait in Redis to be resumed.
WINNOW_FRONTIER_KEEP = int(os.environ.get("WINNOW_FRONTIER_KEEP", "86400"))
if REDIS_URL:
    SCHEDULER = "spiders.frontier.SharedScheduler"
    DUPEFILTER_CLASS = "scrapy_redis.dupefilter.RFPDupeFilter"
    SCHEDULER_PERSIST = True
    SPIDER_MIDDLEWARES = {
        **globals().get("SPIDER_MIDDLEWARES", {}),
        "spiders.frontier.SharedStart": 10,
    }
