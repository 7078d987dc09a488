"""Collect student downloads into one notebook per student, without touching the originals.

Students download from Colab and upload whatever name their browser chose: `vae.ipynb`,
`Copy of vae.ipynb`, `vae (1).ipynb`, `jdoe_vae.ipynb`, sometimes inside a zip, sometimes in
a folder per student (as LMS exports do). Whose notebook a file is comes from, in order:
the roster CSV (`student_id,file`), the student's folder, the file name. Files are only
read (zips are never extracted to disk), so the instructor's downloads stay byte-identical.
"""
from __future__ import annotations

import csv
import datetime
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_NOTEBOOK_BYTES = 256 * 2**20      # a notebook larger than this is not read (outputs are dropped anyway)
MAX_ZIP_BYTES = 2 * 2**30             # everything read out of one zip, however it claims to be compressed
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
IGNORED = ("__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class Download:
    origin: str          # where it came from, for reports: "jdoe_vae.ipynb" or "class.zip: jdoe/vae.ipynb"
    path: PurePosixPath  # its path inside the downloads folder or the zip
    data: bytes
    modified: float      # seconds since the epoch (zip members: their recorded time)


@dataclass
class Collection:
    submissions: dict[str, Download] = field(default_factory=dict)   # student id -> the notebook to grade
    rejected: list[tuple[str, str]] = field(default_factory=list)    # (origin, why)
    superseded: list[tuple[str, str]] = field(default_factory=list)  # (origin, which newer file replaced it)
    unused_roster_rows: list[str] = field(default_factory=list)      # roster files that were not found


def _ignored(path: PurePosixPath) -> bool:
    return any(part in IGNORED or part.startswith(".") for part in path.parts)


def _read_capped(stream, limit: int) -> bytes | None:
    """At most `limit` bytes of `stream`, or None when there is more (never trusts declared sizes)."""
    data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _zip_member_problem(info: zipfile.ZipInfo) -> str | None:
    path = PurePosixPath(info.filename.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", info.filename):
        return "its path leads outside the zip (an unsafe path); it was not read"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "it is a symbolic link, not a notebook; it was not followed"
    return None


def read_zip(zip_path: Path, origin: str) -> tuple[list[Download], list[tuple[str, str]]]:
    """The notebooks inside a zip, read in memory with size caps (zip bombs stop at the cap)."""
    found, rejected = [], []
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as e:
        return [], [(origin, f"not a readable zip file ({e})")]
    budget = MAX_ZIP_BYTES
    with archive:
        for info in archive.infolist():
            member = PurePosixPath(info.filename.replace("\\", "/"))
            where = f"{origin}: {info.filename}"
            problem = _zip_member_problem(info)
            if problem is None and (info.is_dir() or _ignored(member)):
                continue
            if problem is None and not member.name.lower().endswith(".ipynb"):
                problem = _not_a_notebook(member)
            if problem:
                rejected.append((where, problem))
                continue
            try:
                with archive.open(info) as stream:
                    data = _read_capped(stream, min(MAX_NOTEBOOK_BYTES, budget))
            except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as e:
                rejected.append((where, f"could not be read from the zip ({e})"))
                continue
            if data is None:
                rejected.append((where, f"unpacks to more than {MAX_NOTEBOOK_BYTES // 2**20} MiB "
                                        "(a notebook is never that large); it was not read"))
                continue
            budget -= len(data)
            modified = _zip_time(info)
            found.append(Download(where, member, data, modified))
    return found, rejected


def _zip_time(info: zipfile.ZipInfo) -> float:
    try:
        return datetime.datetime(*info.date_time).timestamp()
    except ValueError:
        return 0.0


def _not_a_notebook(path: PurePosixPath) -> str:
    kind = path.suffix or "no extension"
    return f"not a Jupyter notebook ({kind}): submit the .ipynb file downloaded from Colab"


def read_downloads(folder: Path) -> tuple[list[Download], list[tuple[str, str]]]:
    """Every notebook in `folder` (recursively, zips included); the rest is rejected with a reason."""
    found, rejected = [], []
    for path in sorted(folder.rglob("*")):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if _ignored(relative):
            continue
        origin = str(relative)
        if path.is_symlink():
            rejected.append((origin, "a symbolic link, not a notebook; it was not followed"))
            continue
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix == ".zip":
            in_zip, bad = read_zip(path, origin)
            found += [Download(d.origin, relative.parent / d.path, d.data, d.modified) for d in in_zip]
            rejected += bad
        elif suffix == ".ipynb":
            if path.stat().st_size > MAX_NOTEBOOK_BYTES:
                rejected.append((origin, f"larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB; it was not read"))
                continue
            found.append(Download(origin, relative, path.read_bytes(), path.stat().st_mtime))
        elif suffix != ".csv":   # a roster may sit beside the notebooks
            rejected.append((origin, _not_a_notebook(relative)))
    return found, rejected


def id_from_file_name(name: str) -> str | None:
    """`jdoe_vae.ipynb` -> jdoe; `Copy of vae (1).ipynb` -> None (the name says nothing of the student)."""
    stem = re.sub(r"\.ipynb$", "", name, flags=re.I).strip()
    stem = re.sub(r"^(copy of\s+)+", "", stem, flags=re.I)
    stem = re.sub(r"\s*\(\d+\)$", "", stem)
    stem = re.sub(r"^vae(?:[\s_.-]+|$)|[\s_.-]+vae$", "", stem, flags=re.I).strip(" _.-")
    return stem if STUDENT_ID.match(stem) and stem.lower() != "vae" else None


def read_roster(path: Path) -> dict[str, str]:
    """file (as downloaded, with its folder or zip path if any) -> student id."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return {}
    columns = {name.strip().lower(): name for name in rows[0]}
    file_col = columns.get("file") or columns.get("filename")
    id_col = columns.get("student_id") or columns.get("student")
    if not file_col or not id_col:
        raise ValueError(f"{path.name}: a roster needs the columns student_id and file (it has {', '.join(rows[0])})")
    roster = {}
    for line, row in enumerate(rows, start=2):
        student = (row[id_col] or "").strip()
        if not STUDENT_ID.match(student):
            raise ValueError(f"{path.name}, line {line}: {student!r} is not a usable student id "
                             "(letters, digits and _ . @ + - only)")
        roster[(row[file_col] or "").strip()] = student
    return roster


def roster_key(download: Download, roster: dict[str, str]) -> str | None:
    """The roster row that names this download: by its origin or path; by its bare name only at the top level.

    (A bare `Copy of vae.ipynb` row must not also claim `rwong/Copy of vae.ipynb`.)
    """
    inner = download.origin.split(": ", 1)[-1]
    keys = [download.origin, str(download.path), inner] + ([download.path.name] if len(download.path.parts) == 1 else [])
    return next((key for key in keys if key in roster), None)


def student_of(download: Download, roster: dict[str, str]) -> str | None:
    key = roster_key(download, roster)
    if key is not None:
        return roster[key]
    if len(download.path.parts) > 1 and STUDENT_ID.match(download.path.parts[0]):
        return download.path.parts[0]
    return id_from_file_name(download.path.name)


def collect(downloads: Path, roster: Path | None = None) -> Collection:
    """One notebook per student from a folder of downloads (the newest when a student sent several)."""
    names = read_roster(roster) if roster else {}
    found, rejected = read_downloads(downloads)
    collection = Collection(rejected=rejected)
    used: set[str | None] = set()
    for download in sorted(found, key=lambda d: (d.modified, d.origin)):
        student = student_of(download, names)
        if student is None:
            collection.rejected.append((download.origin, "cannot tell whose notebook this is: list its file name "
                                                         "in the roster CSV (columns student_id,file)"))
            continue
        used.add(roster_key(download, names))
        previous = collection.submissions.get(student)
        if previous is not None:
            collection.superseded.append((previous.origin, f"{student} also sent the newer {download.origin}"))
        collection.submissions[student] = download
    collection.unused_roster_rows = sorted(set(names) - used)
    return collection
