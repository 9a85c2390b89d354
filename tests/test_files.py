"""files.py: a file or folder of ours is written whole or not at all, and never over the user's."""

from __future__ import annotations

import os

import pytest

from textgen_helpers import files
from textgen_helpers.files import atomic_file, remove_leftovers, replaced_folder, temporary_name, write_text_atomic

OURS = {"a.txt", "b.txt"}


def own(name: str) -> bool:
    return name in OURS


def no_check(path):
    return None


def write_folder(path, text: str, *, fail_inside: bool = False) -> None:
    with replaced_folder(path, no_check, own) as staging:
        (staging / "a.txt").write_text(text)
        if fail_inside:
            raise OSError("disk full")
        (staging / "b.txt").write_text(text)


def folder(path) -> dict:
    return {p.name: p.read_text() for p in sorted(path.iterdir())}


def leftovers(path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.textgen-"))


def test_a_file_written_atomically_replaces_the_old_one_only_when_complete(tmp_path):
    target = tmp_path / "state.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_file(target) as tmp:
        tmp.write_text("half of the new")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    write_text_atomic(target, "new")
    assert target.read_text() == "new"


def test_a_temporary_name_keeps_the_suffix_and_is_recognised_as_ours(tmp_path):
    tmp = temporary_name(tmp_path / "epoch_0001.keras", "part")
    assert tmp.name.startswith(".epoch_0001.keras.textgen-part-") and tmp.suffix == ".keras"
    assert files.is_temporary_of(tmp.name, "epoch_0001.keras")
    assert not files.is_temporary_of(".epoch_0001.keras.textgen-part-mine.keras", "epoch_0001.keras")
    assert not files.is_temporary_of(tmp.name, "epoch_0002.keras")


def test_a_folder_is_replaced_whole(tmp_path):
    target = tmp_path / "bundle"
    write_folder(target, "one")
    write_folder(target, "two")
    assert folder(target) == {"a.txt": "two", "b.txt": "two"} and leftovers(target) == []


def test_a_failure_while_the_new_folder_is_written_leaves_the_old_one(tmp_path):
    target = tmp_path / "bundle"
    write_folder(target, "one")
    with pytest.raises(OSError, match="disk full"):
        write_folder(target, "two", fail_inside=True)
    assert folder(target) == {"a.txt": "one", "b.txt": "one"} and leftovers(target) == []


def test_a_failed_atomic_exchange_leaves_the_old_folder(tmp_path, monkeypatch):
    target = tmp_path / "bundle"
    write_folder(target, "one")

    def fails(a, b):
        raise OSError(5, "I/O error")

    monkeypatch.setattr(files, "_exchange", fails)
    with pytest.raises(OSError, match="I/O error"):
        write_folder(target, "two")
    assert folder(target) == {"a.txt": "one", "b.txt": "one"} and leftovers(target) == []


def test_without_an_atomic_exchange_a_failed_second_rename_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "bundle"
    write_folder(target, "one")
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)  # a system without renameat2
    write_folder(target, "two")
    assert folder(target) == {"a.txt": "two", "b.txt": "two"} and leftovers(target) == []
    real_replace = os.replace

    def second_rename_fails(src, dst):
        if os.path.basename(src).startswith(".bundle.textgen-new-"):
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="No space left"):
        write_folder(target, "three")
    assert folder(target) == {"a.txt": "two", "b.txt": "two"} and leftovers(target) == []


def test_the_swap_is_one_atomic_exchange_on_linux(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    (a / "from_a").touch(), (b / "from_b").touch()
    if not files._exchange(a, b):
        pytest.skip("this system has no atomic exchange of two names (renameat2)")
    assert [p.name for p in a.iterdir()] == ["from_b"] and [p.name for p in b.iterdir()] == ["from_a"]


def test_leftovers_of_a_killed_write_are_removed_only_if_they_hold_nothing_but_ours(tmp_path):
    target = tmp_path / "bundle"
    killed_staging = temporary_name(target, "new")
    killed_staging.mkdir()
    (killed_staging / "a.txt").write_text("half")
    killed_part = temporary_name(target, "part")
    killed_part.write_text("half")
    lookalike = tmp_path / ".bundle.textgen-new-mine"  # not a name we make
    lookalike.mkdir()
    with_other_files = temporary_name(target, "old")
    with_other_files.mkdir()
    (with_other_files / "thesis.tex").write_text("mine")
    removed = remove_leftovers(target, own)
    assert sorted(p.name for p in removed) == sorted([killed_staging.name, killed_part.name])
    assert lookalike.is_dir() and (with_other_files / "thesis.tex").read_text() == "mine"
