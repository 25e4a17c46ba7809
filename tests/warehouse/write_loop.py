"""A writer process for the concurrency and crash tests.

`python -m tests.warehouse.write_loop ROOT RUN_ID FLUSHES ROWS [TEXT_CHARS] [PAUSE]`
writes FLUSHES files of ROWS articles each (one partition per flush, rotating over
dates and languages) and prints `flushed PATH ROWS` once a file's rename is done,
so a test that kills it knows which rows must be readable.
"""

from __future__ import annotations

import base64
import dataclasses
import random
import sys
import time
from datetime import timedelta

from tests.factories import DAY, make_article
from warehouse.writer import WarehouseWriter

LANGS = ("en", "fr", "de")


def main(argv: list[str]) -> None:
    root, run_id, flushes, rows = argv[0], argv[1], int(argv[2]), int(argv[3])
    text_chars = int(argv[4]) if len(argv) > 4 else 200
    pause = float(argv[5]) if len(argv) > 5 else 0.0
    rng = random.Random(run_id)
    base = make_article(f"http://{run_id}.example/")
    writer = WarehouseWriter(root, run_id, max_rows=rows, max_age=3600)
    for f in range(flushes):
        day = DAY + timedelta(days=f % 2)
        lang = LANGS[f % len(LANGS)]
        # unique, barely compressible text, so a flush spends real time writing
        pool = base64.b64encode(rng.randbytes(rows * text_chars * 3 // 4 + 3)).decode()
        for i in range(rows):
            start = i * text_chars
            url = f"http://{run_id}.example/{f}/{i}"
            writer.add(  # the last add of the loop triggers the flush (max_rows)
                dataclasses.replace(
                    base,
                    id=f"{run_id}-{f}-{i}",
                    url=url,
                    canonical_url=url,
                    text=pool[start : start + text_chars],
                    lang=lang,
                    fetched_at=day,
                )
            )
        for path in writer.files_written[f:]:
            print(f"flushed {path} {rows}", flush=True)
        if pause:
            time.sleep(pause)
    writer.close()


if __name__ == "__main__":
    main(sys.argv[1:])
