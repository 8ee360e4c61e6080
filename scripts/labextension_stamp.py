"""The stamp that ties the committed prebuilt labextension to its source.

``make labextension`` rebuilds ``aurous_nb/labextension/`` from ``labextension/`` (npm, node) and
then runs ``--write``; ``tests/test_labextension.py`` runs ``--check``, so a source change
committed without a rebuild (or a hand-edited build) fails ``make test``, which itself never
needs npm.

    python scripts/labextension_stamp.py --write | --check
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = "labextension"
OUTPUT = "aurous_nb/labextension"
STAMP = "build.json"  # inside OUTPUT; the build wipes OUTPUT, so it is written after
SOURCE_FILES = ("package.json", "package-lock.json", "tsconfig.json", "install.json")


def _digest(base: Path, files: Iterable[Path]) -> str:
    sha = hashlib.sha256()
    for path in sorted(files):
        sha.update(path.relative_to(base).as_posix().encode() + b"\0")
        sha.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return sha.hexdigest()


def source_digest(root: Path = ROOT) -> str:
    source = root / SOURCE
    files = [source / name for name in SOURCE_FILES]
    files += [p for p in (source / "src").rglob("*") if p.is_file()]
    return _digest(source, files)


def output_digest(root: Path = ROOT) -> str:
    output = root / OUTPUT
    return _digest(output, (p for p in output.rglob("*") if p.is_file() and p.name != STAMP))


def current(root: Path = ROOT) -> dict[str, str]:
    return {"source": source_digest(root), "output": output_digest(root)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", action="store_true", help="stamp the build just made")
    action.add_argument("--check", action="store_true", help="fail if the build is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: this)")
    args = parser.parse_args(argv)
    stamp = args.root / OUTPUT / STAMP
    if args.write:
        stamp.write_text(json.dumps(current(args.root), indent=2) + "\n")
        print(f"stamped {OUTPUT}/{STAMP}")
        return 0
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        print(f"no stamp at {OUTPUT}/{STAMP}: run `make labextension`", file=sys.stderr)
        return 1
    stale = [k for k, v in current(args.root).items() if recorded.get(k) != v]
    if stale:
        what = " and ".join(stale)
        print(
            f"the prebuilt labextension is stale ({what} changed since the stamp): "
            f"run `make labextension` and commit {OUTPUT}/",
            file=sys.stderr,
        )
        return 1
    print("labextension build matches its source")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
