"""``snpd trades solve`` reaches the solver through the trades slice's ``add_cli`` and ``snpd``'s own parser."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from snpd.cli import main


def test_snpd_trades_solve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    problem = {
        "haves": [{"id": "a1", "member": "a", "item": "x", "size": "10", "condition": "ds"},
                  {"id": "b1", "member": "b", "item": "y", "size": "10", "condition": "ds"}],
        "wants": [{"member": "a", "item": "y", "sizes": ["10"]}, {"member": "b", "item": "x", "sizes": ["10"]}],
    }  # fmt: skip
    path = tmp_path / "swap.json"
    path.write_bytes(orjson.dumps(problem))
    assert main(["trades", "solve", str(path), "--max-cycle", "2", "--json"]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert printed["items_traded"] == 2 and printed["cycles"] == [
        [{"have": "a1", "from": "a", "to": "b"}, {"have": "b1", "from": "b", "to": "a"}]
    ]
