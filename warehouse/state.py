"""Small state files kept with the warehouse (learned templates, indexes): `_state/NAME`.

The leading underscore keeps them out of every reader's glob of the tables. Files
are replaced whole: written under a temporary name, then renamed (local), or put as
one object (S3).
"""

from __future__ import annotations

import contextlib
import json

from warehouse.storage import Root, open_root

STATE_DIR = "_state"


def read_json(warehouse: str | Root, name: str, default: object = None) -> object:
    root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
    try:
        with root.fs.open_input_stream(root.path(STATE_DIR, name)) as stream:
            return json.loads(stream.read().decode("utf-8"))
    except (FileNotFoundError, OSError, ValueError):
        return default


def write_json(warehouse: str | Root, name: str, data: object) -> None:
    root = warehouse if isinstance(warehouse, Root) else open_root(warehouse)
    root.fs.create_dir(root.path(STATE_DIR), recursive=True)
    final = root.path(STATE_DIR, name)
    target = root.path(STATE_DIR, f".tmp-{name}") if root.is_local else final
    try:
        with root.fs.open_output_stream(target) as stream:
            stream.write(json.dumps(data, ensure_ascii=False).encode("utf-8"))
        if target != final:
            root.fs.move(target, final)
    except OSError:
        if target != final:  # disk full: leave no half-written temporary behind
            with contextlib.suppress(OSError):
                root.fs.delete_file(target)
        raise
