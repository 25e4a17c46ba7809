"""The cleaning pipeline: pure steps over plain data, plus the Scrapy adapters that run them.

Data flows page -> extract -> trailers -> language -> quality -> Article | Reject; the
steps import nothing from Scrapy so they run in tests, process pools and notebooks alike.
"""
