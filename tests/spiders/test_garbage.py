"""The crawler's garbage-collection tuning, applied when the engine starts."""

from __future__ import annotations

import gc
import weakref

import pytest
from scrapy import signals
from scrapy.utils.test import get_crawler

from spiders.garbage import THRESHOLDS, GarbageCollection
from spiders.news import NewsSpider


@pytest.fixture
def restored_gc():
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_engine_start_freezes_the_heap_and_raises_the_thresholds(restored_gc) -> None:
    crawler = get_crawler(NewsSpider, {"MEMUSAGE_ENABLED": False})
    extension = GarbageCollection.from_crawler(crawler)  # signals hold receivers weakly
    gc.unfreeze()
    before = gc.get_freeze_count()
    crawler.signals.send_catch_log(signals.engine_started)
    assert before == 0
    assert gc.get_freeze_count() > 10_000  # at least the test process's modules
    assert gc.get_threshold() == THRESHOLDS
    del extension


def test_engine_stop_gives_the_process_its_usual_collection_back(restored_gc) -> None:
    crawler = get_crawler(NewsSpider, {"MEMUSAGE_ENABLED": False})
    extension = GarbageCollection.from_crawler(crawler)
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    crawler.signals.send_catch_log(signals.engine_started)
    assert gc.get_freeze_count() > 10_000
    crawler.signals.send_catch_log(signals.engine_stopped)
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == (700, 10, 10)
    del extension


def test_cycles_made_after_the_freeze_are_still_collected_on_their_own(restored_gc) -> None:
    GarbageCollection().engine_started()

    class Node:
        pass

    node = Node()
    node.self = node
    gone = weakref.ref(node)
    del node
    # More live allocations than the young generation's threshold: a collection runs
    # by itself (nothing here calls gc.collect) and frees the cycle.
    kept = [[] for _ in range(2 * THRESHOLDS[0])]
    assert gc.isenabled()
    assert gone() is None
    del kept
