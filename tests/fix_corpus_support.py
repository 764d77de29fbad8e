"""The failing corpus as the fixer's tests and benchmark see it: headers, goldens, copies.

Header (spec "Corpus header"): one or more `# inplace-fix-expect: key=value ...` lines,
`# pattern: name`, optional `# args: ...` (arguments for the script). Values of
modified/saved/constructed/view are `LINE` or `file.py:LINE` (or `-`).
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAILING = REPO / "corpora" / "failing"


@dataclass(frozen=True)
class Expect:
    fields: dict[str, str]

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key, default)

    def site(self, key: str, entry: str) -> tuple[str, int] | None:
        """(file name, line) of a site field; file defaults to the entry script."""
        value = self.fields.get(key, "-")
        if value in ("-", ""):
            return None
        file, _, line = value.rpartition(":")
        try:
            return (file or entry, int(line))
        except ValueError:
            return None


@dataclass(frozen=True)
class Case:
    name: str
    path: Path  # the entry script (a file, or <folder>/main.py)
    folder: bool
    expects: tuple[Expect, ...]
    args: tuple[str, ...] = ()
    goldens: dict[str, Path] = field(default_factory=dict)  # edited file (relative) -> golden

    @property
    def fixable(self) -> bool:
        return all(e.get("fixable") == "yes" for e in self.expects)

    @property
    def entry(self) -> str:
        """The script path relative to the scratch copy's root."""
        return f"{self.name}/main.py" if self.folder else self.path.name

    def copy_to(self, dest: Path) -> Path:
        """A scratch copy without goldens; returns the copy's root (where the CLI runs)."""
        dest.mkdir(parents=True, exist_ok=True)
        if self.folder:
            shutil.copytree(self.path.parent, dest / self.name,
                            ignore=shutil.ignore_patterns("*.fixed.py", "__pycache__"))
        else:
            shutil.copy2(self.path, dest / self.path.name)
        return dest

    def golden_copy_to(self, dest: Path) -> Path:
        """A copy with every golden in place of its original: what --apply should leave."""
        self.copy_to(dest)
        for rel, golden in self.goldens.items():
            shutil.copy2(golden, dest / rel)
        return dest


def parse_header(path: Path) -> tuple[tuple[Expect, ...], tuple[str, ...]]:
    expects, args = [], ()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body.startswith("inplace-fix-expect:"):
            fields = dict(item.split("=", 1) for item in body.split(":", 1)[1].split() if "=" in item)
            expects.append(Expect(fields))
        elif body.startswith("args:"):
            args = tuple(shlex.split(body.split(":", 1)[1]))
    return tuple(expects), args


def cases() -> list[Case]:
    out = []
    for path in sorted(FAILING.iterdir()):
        if path.is_dir() and (path / "main.py").is_file():
            expects, args = parse_header(path / "main.py")
            goldens = {f"{path.name}/{g.name[:-len('.fixed.py')]}.py": g for g in sorted(path.glob("*.fixed.py"))}
            out.append(Case(path.name, path / "main.py", True, expects, args, goldens))
        elif path.suffix == ".py" and not path.name.endswith(".fixed.py"):
            expects, args = parse_header(path)
            golden = path.with_name(path.stem + ".fixed.py")
            goldens = {path.name: golden} if golden.is_file() else {}
            out.append(Case(path.stem, path, False, expects, args, goldens))
    return [c for c in out if c.expects and c.expects[0].get("kind") != "clean"]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes under root (not caches, not the tool's own git-ignored lock and journal
    folder, whose emptiness after a run is checked on its own): to prove nothing else changed."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and ".inplace-fix" not in p.parts}


def loss_lines(text: str) -> list[str]:
    """The lines a corpus script prints per step (`step N loss X`)."""
    return [line.strip() for line in text.splitlines() if " loss " in line and line.strip().startswith("step")]


def localization_errors(case: Case, problems: list[dict], cwd: Path) -> list[str]:
    """Each expected problem matched to one reported problem by kind and sites (the header's
    modified=, saved=, constructed=, view=); what is left over on either side, in words.

    `problems` are the JSON report's, whose paths are relative to `cwd` (the scratch copy's
    root); a header site `LINE` is in the entry file, `FILE.py:LINE` in the project folder.
    """
    folder = Path(case.entry).parent

    def want(expect: Expect, key: str) -> tuple[str, int] | None:
        site = expect.site(key, Path(case.entry).name)
        return None if site is None else ((folder / site[0]).as_posix(), site[1])

    def got(problem: dict, key: str) -> tuple[str, int] | None:
        site = problem.get(key)
        return None if not site else (Path(site["file"]).as_posix(), int(site["line"]))

    left = list(problems)
    errors = []
    for expect in case.expects:
        keys = [("modified", "modified_at"), ("saved", "saved_at")]
        keys += [(k, j) for k, j in (("constructed", "construction_at"), ("view", "view_created_at")) if expect.get(k)]
        hit = next((p for p in left if p.get("kind") == expect.get("kind")
                    and all(got(p, j) == want(expect, k) for k, j in keys)), None)
        if hit is None:
            errors.append(f"expected {expect.fields}")
        else:
            left.remove(hit)
    errors += [f"unexpected {p.get('kind')} modified={got(p, 'modified_at')} saved={got(p, 'saved_at')}" for p in left]
    return errors
