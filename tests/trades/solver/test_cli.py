"""``snpd trades solve``: the printed JSON's exact shape and the refusals, through the argparse wiring."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson
import pytest

from bot.trades.solver import add_solve_command


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="snpd trades")
    add_solve_command(parser.add_subparsers(dest="action", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def ring_file(tmp_path: Path, members: int) -> Path:
    names = [f"m{i}" for i in range(members)]
    problem = {
        "haves": [
            {"id": f"h{i}", "member": m, "item": f"P{i}", "size": "10", "condition": "DS"} for i, m in enumerate(names)
        ],
        "wants": [{"member": m, "item": f"P{(i - 1) % members}", "sizes": ["10"]} for i, m in enumerate(names)],
    }
    path = tmp_path / "market.json"
    path.write_bytes(orjson.dumps(problem))
    return path


def test_json_output_has_exactly_the_documented_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["solve", str(ring_file(tmp_path, 3)), "--json"]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert list(printed) == ["items_traded", "members_trading", "cycles", "seconds"]
    assert printed["items_traded"] == 3 and printed["members_trading"] == 3
    assert printed["cycles"] == [
        [
            {"have": "h0", "from": "m0", "to": "m1"},
            {"have": "h1", "from": "m1", "to": "m2"},
            {"have": "h2", "from": "m2", "to": "m0"},
        ]
    ]
    assert isinstance(printed["seconds"], float)


@pytest.mark.parametrize(("cap", "items"), [("2", 0), ("3", 0), ("4", 4), ("0", 4)])
def test_max_cycle(tmp_path: Path, capsys: pytest.CaptureFixture[str], cap: str, items: int) -> None:
    assert run(["solve", str(ring_file(tmp_path, 4)), "--max-cycle", cap, "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["items_traded"] == items


def test_the_default_cap_is_three(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["solve", str(ring_file(tmp_path, 4)), "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["items_traded"] == 0


def test_text_output_names_who_sends_what(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["solve", str(ring_file(tmp_path, 2))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 items among 2 members in 1 cycles (at most 3; optimal)")
    assert "1. m0 sends h0 to m1; m1 sends h1 to m0" in out


def test_a_malformed_file_is_named_with_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"haves": [{"id": "h1", "member": "ana"}], "wants": []}')
    assert run(["solve", str(path), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"{path}: haves[0].item: field required")


def test_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["solve", str(tmp_path / "nope.json")]) == 2
    assert "cannot read (No such file or directory)" in capsys.readouterr().err


@pytest.mark.parametrize("seconds", ["0", "-1", "nan"])
def test_an_impossible_time_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str], seconds: str) -> None:
    assert run(["solve", str(ring_file(tmp_path, 2)), "--max-cycle", "5", "--seconds", seconds]) == 2
    assert "--seconds must be more than 0" in capsys.readouterr().err


def test_a_time_limited_long_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["solve", str(ring_file(tmp_path, 5)), "--max-cycle", "6", "--seconds", "30", "--json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["items_traded"] == 5


@pytest.mark.parametrize("cap", ["1", "-2"])
def test_an_impossible_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str], cap: str) -> None:
    assert run(["solve", str(ring_file(tmp_path, 2)), "--max-cycle", cap]) == 2
    assert "--max-cycle must be 0 (unbounded) or at least 2" in capsys.readouterr().err


def test_through_the_snpd_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from snpd.cli import main

    assert main(["trades", "solve", str(ring_file(tmp_path, 4)), "--max-cycle", "0", "--json"]) == 0
    printed = orjson.loads(capsys.readouterr().out)
    assert (printed["items_traded"], printed["members_trading"], len(printed["cycles"])) == (4, 4, 1)
    bad = tmp_path / "bad.json"
    bad.write_text('{"haves": [], "wants": [{"member": "zoe", "item": "P1", "sizes": ["10"]}]}')
    assert main(["trades", "solve", str(bad)]) == 2
    assert "wants[0].member: 'zoe' has no haves" in capsys.readouterr().err
