"""A cleaning worker's start: everything a first page would load, loaded once.

The pool's forkserver imports this module (see pipeline.pool), so the workers it
forks start with trafilatura, lxml, langdetect's profiles and the trailer library
already in memory, instead of each paying for them (about 0.5 s of CPU) on its
first page. Importing it anywhere else is harmless: it cleans one small page.
"""

from __future__ import annotations

import logging

from pipeline.clean import clean
from pipeline.language import backend
from pipeline.page import Page

log = logging.getLogger(__name__)

_PARAGRAPH = (
    "<p>The harbour authority said on Tuesday that the new quay would open in the spring, "
    "after two years of work that closed the northern berths to the ferries. The mayor, "
    "who visited the site with engineers, told reporters that the cost had stayed within "
    "the budget agreed by the council and that the fishing fleet would return first.</p>"
)
WARM_PAGE = Page(
    url="http://warm-up.invalid/2026/01/01/quay/",
    body=(
        "<html><head><title>Quay to open in spring</title></head><body><article>"
        f"<h1>Quay to open in spring</h1>{_PARAGRAPH * 4}<p>Leave a Reply</p>"
        "</article></body></html>"
    ).encode(),
    headers={"content-type": "text/html; charset=utf-8"},
)


def warm_up() -> None:
    """Load langdetect's profiles and run one page through every cleaning step."""
    try:
        backend("langdetect")
        clean(WARM_PAGE)
    except Exception:  # a worker that starts cold still works; a dead forkserver does not
        log.exception("cleaning worker warm-up failed; workers will start cold")


warm_up()
