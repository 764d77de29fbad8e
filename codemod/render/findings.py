"""Findings as text, JSON, GitHub workflow commands or SARIF 2.1.0.

Positions are 0-based character columns inside the code; each format converts to
its own convention once, here: text and GitHub print col + 1 (editor convention),
SARIF uses 1-based columns counted in Unicode code points, JSON keeps 0-based.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from inplace_fix import __version__
from inplace_fix.console import Console
from inplace_fix.lint import FileError
from inplace_fix.transforms.base import Finding

if TYPE_CHECKING:
    from inplace_fix.render.sarif_fixes import SafeFix

__all__ = ["FORMATS", "render_text", "render_json", "render_github", "render_sarif", "artifact_location",
           "help_uri", "project_repository"]

FORMATS = ("text", "json", "github", "sarif")
INFO_URI = "https://github.com/inplace-fix/inplace-fix"
_URL_LABELS = ("repository", "source", "source code", "code", "homepage")


def project_repository() -> str | None:
    """The repository URL in the installed package's metadata (pyproject's [project.urls]), if any."""
    from importlib import metadata

    try:
        entries = metadata.metadata("inplace-fix").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    urls = {}
    for entry in entries:
        label, _, url = entry.partition(",")
        urls[label.strip().lower()] = url.strip().rstrip("/")
    return next((urls[label] for label in _URL_LABELS if urls.get(label, "").startswith("https://")), None)


def help_uri(code: str, repository: str | None) -> str:
    """Where the rule's page lives: docs/rules/CODE.md in the repository, else that path relative."""
    page = f"docs/rules/{code}.md"
    if repository and repository.startswith("https://github.com/"):
        return f"{repository}/blob/main/{page}"
    return page


def artifact_location(path: str) -> dict[str, str]:
    """A SARIF artifactLocation: a percent-encoded URI (spaces, non-ASCII), relative to %SRCROOT%
    for a path shown relative to the current folder."""
    if path.startswith("/"):
        return {"uri": Path(path).as_uri()}
    return {"uri": quote(path, safe="/"), "uriBaseId": "%SRCROOT%"}


def _enum(value: object) -> object:
    return getattr(value, "value", value)


def render_text(findings: Sequence[Finding], console: Console) -> str:
    """`path:line:col: CODE message`, one per line, col 1-based."""
    lines = []
    for f in findings:
        where = console.style(f"{f.path}:{f.line}:{f.col + 1}:", bold=True)
        lines.append(f"{where} {console.style(f.code, fg='red', bold=True)} {f.message}")
    return "".join(line + "\n" for line in lines)


def finding_dict(f: Finding) -> dict[str, object]:
    """The JSON form of a finding (0-based `col`, as in every JSON report of the tool)."""
    return {
        "path": f.path, "line": f.line, "col": f.col, "end_line": f.end_line or f.line,
        "end_col": f.end_col, "code": f.code, "message": f.message,
        "confidence": _enum(f.confidence), "fixable": f.fixable, "safety": _enum(f.safety),
        "note": f.note, "no_fix": f.no_fix,
    }


def render_json(findings: Sequence[Finding], problems: Sequence[FileError], files_scanned: int) -> str:
    """One JSON document: findings, files left alone, and counts."""
    by_rule: dict[str, int] = {}
    for f in findings:
        by_rule[f.code] = by_rule.get(f.code, 0) + 1
    document = {
        "tool": "inplace-fix", "version": __version__,
        "findings": [finding_dict(f) for f in findings],
        "errors": [{"path": p.path, "reason": p.reason} for p in problems],
        "summary": {"files_scanned": files_scanned, "findings": len(findings),
                    "by_rule": dict(sorted(by_rule.items())), "errors": len(problems)},
    }
    return json.dumps(document, indent=2) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(findings: Sequence[Finding], problems: Sequence[FileError]) -> str:
    """GitHub Actions workflow commands: annotations on the pull request's lines."""
    out = []
    for f in findings:
        props = [f"file={_escape_property(f.path)}", f"line={f.line}", f"col={f.col + 1}"]
        if f.end_line:
            props.append(f"endLine={f.end_line}")
            if f.end_line == f.line and f.end_col:
                props.append(f"endColumn={f.end_col + 1}")
        props.append(f"title={_escape_property(f.code)}")
        out.append(f"::warning {','.join(props)}::{_escape_data(f'{f.code} {f.message}')}")
    for p in problems:
        out.append(f"::error file={_escape_property(p.path)},title=inplace-fix::{_escape_data(p.reason)}")
    return "".join(line + "\n" for line in out)


def _sarif_rule(rule: type, repository: str | None) -> dict[str, object]:
    from inplace_fix.render.rules import rule_page

    safety = _enum(rule.safety)
    page = rule_page(rule)
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.message},
        "fullDescription": {"text": rule.explanation},
        "helpUri": help_uri(rule.code, repository),
        "help": {"text": page, "markdown": page},
        "defaultConfiguration": {"level": "warning", "enabled": bool(rule.bulk_default)},
        "properties": {"fixSafety": safety, "bulkDefault": bool(rule.bulk_default)},
    }


def _sarif_fix(f: Finding, fix: "SafeFix") -> dict[str, object]:
    r = fix.replacement
    return {
        "description": {"text": fix.description},
        "artifactChanges": [{
            "artifactLocation": artifact_location(f.path),
            "replacements": [{
                "deletedRegion": {"startLine": r.start_line, "startColumn": r.start_col,
                                  "endLine": r.end_line, "endColumn": r.end_col},
                "insertedContent": {"text": r.text},
            }],
        }],
    }


def render_sarif(findings: Sequence[Finding], problems: Sequence[FileError], rules: Sequence[type],
                 root: Path, fixes: "Mapping[tuple[str, int, int, str], SafeFix] | None" = None,
                 repository: str | None = None) -> str:
    """A SARIF 2.1.0 log with one run: rules metadata (with their pages), results (with the
    `fixes` of safe rewrites), and files left alone. `repository` defaults to the package's."""
    from inplace_fix.render.sarif_fixes import fix_key

    repository = repository if repository is not None else project_repository()
    fixes = fixes or {}
    index = {rule.code: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        region: dict[str, int] = {"startLine": f.line, "startColumn": f.col + 1}
        if f.end_line:
            region["endLine"] = f.end_line
            if f.end_col:
                region["endColumn"] = f.end_col + 1  # exclusive end, 1-based
        result: dict[str, object] = {
            "ruleId": f.code,
            "level": "warning",
            "message": {"text": f.message},
            "locations": [{"physicalLocation": {
                "artifactLocation": artifact_location(f.path),
                "region": region}}],
            "properties": {"confidence": _enum(f.confidence), "fixable": f.fixable, "safety": _enum(f.safety)},
        }
        if f.code in index:
            result["ruleIndex"] = index[f.code]
        fix = fixes.get(fix_key(f))
        if fix is not None:
            result["fixes"] = [_sarif_fix(f, fix)]
        results.append(result)
    notifications = [{
        "level": "error",
        "message": {"text": p.reason},
        "locations": [{"physicalLocation": {"artifactLocation": artifact_location(p.path)}}],
    } for p in problems]
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "inplace-fix", "version": __version__,
                                "informationUri": repository or INFO_URI,
                                "rules": [_sarif_rule(rule, repository) for rule in rules]}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": root.resolve().as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": not problems,
                             "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }
    return json.dumps(log, indent=2) + "\n"
