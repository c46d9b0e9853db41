"""Helpers shared by the extractors: deterministic JSON, hashing, and the two
kinds of source (an installed PyPI distribution, an npm tarball read in memory).

Neither kind of source is ever executed or imported: files are read as data.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent


def encode(value) -> bytes:
    return (json.dumps(value, indent=None, separators=(",", ":"), sort_keys=True) + "\n").encode("utf-8")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write(path: Path, value) -> str:
    """Writes atomically and returns the file's sha256."""
    data = encode(value)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return sha256(data)


def sort_values(values) -> list:
    """Sorted, de-duplicated list of JSON scalars (mixed types allowed)."""
    unique = {json.dumps(v, sort_keys=True): v for v in values}
    return [unique[k] for k in sorted(unique)]


def read_pins(file_name: str, separator: str) -> dict:
    """name -> version from a pin file ('name==1.2.3' or 'name@1.2.3' lines)."""
    out = {}
    for line in (HERE / file_name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.rpartition(separator) if separator == "@" else line.partition(separator)
            if not name or not version:
                sys.exit(f"{file_name}: '{line}' is not pinned with {separator}")
            out[name.strip()] = version.strip()
    return out


class Recorder:
    """Remembers which files were read (label -> [(path, sha256)]) for the manifest."""

    def __init__(self):
        self.files = {}

    def note(self, rel: str, data: bytes, label: str | None) -> bytes:
        self.files.setdefault(label or rel, []).append((rel, sha256(data)))
        return data

    def record(self) -> dict:
        """Per file or file group: count and sha256 over sorted 'path sha256' lines."""
        out = {}
        for label, entries in self.files.items():
            if len(entries) == 1 and entries[0][0] == label:
                digest = entries[0][1]
            else:
                digest = sha256("".join(f"{p} {h}\n" for p, h in sorted(entries)).encode())
            out[label] = {"count": len(entries), "sha256": digest}
        return out


class Source(Recorder):
    """An installed PyPI distribution whose data files are read and recorded."""

    registry = "pypi"

    def __init__(self, package: str, pinned: str):
        super().__init__()
        self.package = package
        self.dist = metadata.distribution(package)
        self.version = self.dist.version
        if self.version != pinned:
            sys.exit(f"{package} {self.version} is installed but {pinned} is pinned; run scripts/refresh-catalog")
        self.root = Path(self.dist.locate_file(""))

    def read(self, rel: str, label: str | None = None) -> bytes:
        return self.note(rel, (self.root / rel).read_bytes(), label)

    def glob(self, pattern: str) -> list[str]:
        """Relative paths under the install root matching pattern, sorted."""
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.glob(pattern))


class NpmPackage(Recorder):
    """A pinned npm tarball fetched with `npm pack` (which checks the registry's
    integrity hash) and read in memory; nothing is extracted or run."""

    registry = "npm"

    def __init__(self, package: str, version: str, cache_dir: Path, keep=lambda name: True):
        super().__init__()
        self.package = package
        self.version = version
        cache_dir.mkdir(parents=True, exist_ok=True)
        name = package.lstrip("@").replace("/", "-") + f"-{version}.tgz"
        tarball = cache_dir / name
        if not tarball.exists():
            subprocess.run(
                ["npm", "pack", "--silent", f"{package}@{version}", "--pack-destination", str(cache_dir)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        raw = tarball.read_bytes()
        self.tarball_sha256 = sha256(raw)
        self.members = {}
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:gz") as tar:
            for member in tar.getmembers():
                rel = member.name.split("/", 1)[-1]  # npm tarballs put everything under "package/"
                if member.isfile() and keep(rel):
                    self.members[rel] = tar.extractfile(member).read()

    def read(self, rel: str, label: str | None = None) -> bytes:
        return self.note(rel, self.members[rel], label)

    def names(self, predicate) -> list[str]:
        return sorted(n for n in self.members if predicate(n))
