"""Collecting downloads: whose notebook each file is, what is rejected and why; originals untouched."""
from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from autograder.intake.collect import MAX_NOTEBOOK_BYTES, collect, id_from_file_name

NOTEBOOK = b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'


def tree_hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name, student", [
    ("jdoe_vae.ipynb", "jdoe"),
    ("vae_jdoe.ipynb", "jdoe"),
    ("jdoe-vae (2).ipynb", "jdoe"),
    ("Copy of jdoe_vae.ipynb", "jdoe"),
    ("j.doe@uni.edu.ipynb", "j.doe@uni.edu"),
    ("vae.ipynb", None),
    ("Copy of vae.ipynb", None),
    ("vae (1).ipynb", None),
    ("Copy of vae (3).ipynb", None),
])
def test_the_file_name_gives_the_student_only_when_it_names_one(name, student):
    assert id_from_file_name(name) == student


def test_downloads_in_every_naming_map_to_students_and_originals_stay_byte_identical(tmp_path):
    downloads = tmp_path / "downloads"
    (downloads / "mlee").mkdir(parents=True)
    (downloads / "jdoe_vae.ipynb").write_bytes(NOTEBOOK)
    (downloads / "Copy of vae.ipynb").write_bytes(NOTEBOOK + b" ")
    (downloads / "vae (1).ipynb").write_bytes(NOTEBOOK + b"  ")
    (downloads / "mlee" / "vae.ipynb").write_bytes(NOTEBOOK + b"   ")
    with zipfile.ZipFile(downloads / "section2.zip", "w") as archive:
        archive.writestr("kpatel_vae.ipynb", NOTEBOOK)
        archive.writestr("rwong/Copy of vae.ipynb", NOTEBOOK)
    (downloads / "report.pdf").write_bytes(b"%PDF-1.4")
    roster = tmp_path / "roster.csv"
    roster.write_text("student_id,file\nasmith,Copy of vae.ipynb\nbchen,vae (1).ipynb\nghost,missing.ipynb\n")
    before = tree_hashes(downloads)

    collection = collect(downloads, roster)

    assert sorted(collection.submissions) == ["asmith", "bchen", "jdoe", "kpatel", "mlee", "rwong"]
    assert collection.submissions["asmith"].data == NOTEBOOK + b" "
    assert collection.submissions["kpatel"].origin == "section2.zip: kpatel_vae.ipynb"
    assert collection.rejected == [("report.pdf", "not a Jupyter notebook (.pdf): submit the .ipynb file "
                                                  "downloaded from Colab")]
    assert collection.unused_roster_rows == ["missing.ipynb"]
    assert tree_hashes(downloads) == before, "Collecting must never change the instructor's downloads."


def test_a_file_that_names_no_student_is_rejected_with_what_to_do(tmp_path):
    (tmp_path / "vae (1).ipynb").write_bytes(NOTEBOOK)
    collection = collect(tmp_path)
    assert collection.submissions == {}
    [(origin, why)] = collection.rejected
    assert origin == "vae (1).ipynb" and "roster" in why


def test_the_newest_of_two_downloads_of_one_student_is_graded_and_the_other_reported(tmp_path):
    old, new = tmp_path / "jdoe_vae.ipynb", tmp_path / "jdoe_vae (1).ipynb"
    old.write_bytes(NOTEBOOK)
    new.write_bytes(NOTEBOOK + b"\n")
    os.utime(old, (1_000_000, 1_000_000))
    collection = collect(tmp_path)
    assert collection.submissions["jdoe"].origin == "jdoe_vae (1).ipynb"
    assert collection.superseded == [("jdoe_vae.ipynb", "jdoe also sent the newer jdoe_vae (1).ipynb")]


def test_unsafe_zip_members_are_never_read(tmp_path):
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as archive:
        archive.writestr("../../escape_vae.ipynb", NOTEBOOK)
        archive.writestr("/etc/abs_vae.ipynb", NOTEBOOK)
        link = zipfile.ZipInfo("link_vae.ipynb")
        link.external_attr = 0o120777 << 16   # a symbolic link
        archive.writestr(link, "/etc/passwd")
    collection = collect(tmp_path)
    assert collection.submissions == {}
    reasons = dict(collection.rejected)
    assert "unsafe path" in reasons["evil.zip: ../../escape_vae.ipynb"]
    assert "unsafe path" in reasons["evil.zip: /etc/abs_vae.ipynb"]
    assert "symbolic link" in reasons["evil.zip: link_vae.ipynb"]
    assert not (tmp_path.parent / "escape_vae.ipynb").exists()


def test_a_zip_bomb_stops_at_the_size_cap_without_filling_memory(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("bomb_vae.ipynb", "w", force_zip64=True) as member:
            chunk = b"0" * 2**20
            for _ in range(MAX_NOTEBOOK_BYTES // 2**20 + 8):
                member.write(chunk)
    assert (tmp_path / "bomb.zip").stat().st_size < 2 * 2**20, "the bomb should be small on disk"
    collection = collect(tmp_path)
    assert collection.submissions == {}
    [(origin, why)] = collection.rejected
    assert origin == "bomb.zip: bomb_vae.ipynb" and "never that large" in why


def test_a_roster_without_the_needed_columns_is_refused_with_its_columns_named(tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nJane,jane@uni.edu\n")
    with pytest.raises(ValueError, match="student_id and file .*name, email"):
        collect(tmp_path, roster)
