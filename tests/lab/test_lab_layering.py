"""The lab's pure modules stay pure (DESIGN.md layering), checked on their imports."""

from __future__ import annotations

import pytest

from tests.test_layering import IO_MODULES, ROOT, _imports

PURE = ["labpbx/lab/config.py", "labpbx/lab/registrations.py", "labpbx/lab/ladder.py",
        "labpbx/lab/calls.py", "labpbx/lab/console.py", "labpbx/lab/commandlines.py",
        "labpbx/lab/state.py"]


@pytest.mark.parametrize("path", PURE)
def test_pure_lab_modules_do_no_io(path: str) -> None:
    found = _imports(ROOT / path)
    bad = {m for m in found if m.split(".")[0] in IO_MODULES}
    assert not bad, f"{path} imports {sorted(bad)}"
    # nor do they reach for the supervisor, the children or the store
    assert not {m for m in found if m.startswith(("labpbx.lab.supervisor", "labpbx.lab.children",
                                                  "labpbx.store.db", "labpbx.lab.control"))}
