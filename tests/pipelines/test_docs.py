"""The documentation (docs/ and README.md) is the user's manual: it must match the code.

Every flag and subcommand is documented; the generated tables and the JSON Schema are up to
date; every `make` target, command line and config key the pages show exists; the site builds
with ``mkdocs build --strict``.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest

from pipelines.checks.anomaly import AnomalyConfig
from pipelines.checks.quality_config import QualityConfig
from pipelines.cli.docs import generated_files
from pipelines.cli.main import SUBCOMMANDS, _subcommand_parser, build_parser
from pipelines.cli.schema_docs import product_json_schema
from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.lake.schema import COLUMN_DESCRIPTIONS, PRODUCT_SCHEMA
from pipelines.ops.plan import read_orchestration
from pipelines.ops.sink_config import SinksModel
from pipelines.validation import checked
from providers.registry import load_providers

REPO = Path(__file__).resolve().parents[2]
PAGES = {p.relative_to(REPO).as_posix(): p.read_text() for p in sorted(REPO.glob("docs/**/*.md"))}
DOCS = "\n".join(PAGES.values())
EVERYTHING = {**PAGES, "README.md": (REPO / "README.md").read_text()}
PROVIDERS = load_providers()
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
RUN_PIPELINE = re.compile(r"(?:python[\d.]*|\.venv/bin/python) pipelines/run_pipeline\.py([^`\n]*)")
# Dotted names in the docs that are not settings: files, the plug-ins' entry-point group.
NOT_KEYS = {("pipeline", "toml"), ("pipeline", "yml"), ("pipeline", "providers")}
MAKE_ARGS = re.compile(r"make run-pipeline ARGS=(\"[^\"]*\"|'[^']*')")


def _flags(parser) -> list[tuple[str, str | None]]:
    return [
        (flag, action.help)
        for action in parser._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]


def test_generated_tables_and_json_schema_are_up_to_date() -> None:
    for path, text in generated_files(REPO, PROVIDERS).items():
        assert path.read_text() == text, f"{path} is stale: run python -m pipelines.cli.docs"


def test_the_settings_reference_appears_once() -> None:
    assert DOCS.count("<!-- settings:start -->") == 1
    assert DOCS.count("| `[pipeline]` key |") == 1, "a second [pipeline] table: link instead"


def test_every_column_is_described_and_the_json_schema_accepts_a_row() -> None:
    assert set(COLUMN_DESCRIPTIONS) == set(PRODUCT_SCHEMA.names)
    schema = product_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    row = dict.fromkeys(PRODUCT_SCHEMA.names)
    row |= {"source": "shopify", "source_id": "1", "title": "Mug", "condition": "new",
            "availability": "in_stock", "price_amount": "12.5000", "category_path": ["Home"],
            "fetched_at": "2026-12-05T10:00:00Z", "run_id": "r", "raw_hash": "a",
            "content_hash": "b", "change_type": "new", "schema_version": 2}  # fmt: skip
    jsonschema.validate(row, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(row | {"condition": "mint"}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(row | {"price_amount": 12.5}, schema)


def test_every_flag_has_help_and_is_documented() -> None:
    for flag, help_text in _flags(build_parser()):
        assert help_text, f"{flag} has no help text"
        assert f"`{flag}" in DOCS, f"{flag} is not documented under docs/"


def test_every_subcommand_and_its_flags_are_documented() -> None:
    for name in SUBCOMMANDS:
        assert f"`{name}" in DOCS, f"subcommand {name} is not documented under docs/"
        parser, _ = _subcommand_parser(name)
        for flag, help_text in _flags(parser):
            assert help_text, f"{name} {flag} has no help text"
            assert flag in DOCS, f"{name} {flag} is not documented under docs/"


def test_make_targets_named_in_the_docs_exist() -> None:
    shown = re.compile(r"(?:`|^)make ([a-z][a-z-]+)", re.M)  # in code, not the English verb
    named = {t for text in EVERYTHING.values() for t in shown.findall(text)}
    for target in sorted(named):
        dry_run = subprocess.run(
            ["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=False
        )
        assert dry_run.returncode == 0, f"the docs mention `make {target}`: {dry_run.stderr}"


def command_lines(text: str) -> list[list[str]]:
    """The argument lists of every ``run_pipeline.py …`` and ``make run-pipeline ARGS=…`` shown."""
    found = [m.group(1) for m in RUN_PIPELINE.finditer(text)]
    found += [shlex.split(m.group(1))[0] for m in MAKE_ARGS.finditer(text)]
    lines = []
    for args in found:
        args = args.split(" #")[0].split(" &")[0].split(" |")[0].split(" >")[0]
        args = args.replace("\\\n", " ").rstrip(" \\")
        try:
            lines.append(shlex.split(args))
        except ValueError:  # an unbalanced quote cut by the line end: the line is prose
            lines.append(args.split())
    return lines


def _parser_for(argv: list[str]):
    if argv and argv[0] in SUBCOMMANDS:
        return _subcommand_parser(argv[0])[0], argv[1:]
    return build_parser(), argv


def command_problems(text: str) -> list[str]:
    """Flags that do not exist; lines without placeholders (``N``, ``RUN_ID``, ``…``) that do
    not parse with the real parser."""
    problems = []
    for argv in command_lines(text):
        parser, rest = _parser_for(argv)
        known = {s for a in parser._actions for s in a.option_strings}
        flags = {t.split("=")[0] for t in rest if t.startswith("--")}
        problems += [f"{shlex.join(argv)}: no flag {flag}" for flag in sorted(flags - known)]
        if flags - known or any(re.search(r"[A-Z]{2}|…|\.\.\.|<|\[", t) for t in rest):
            continue
        try:
            parser.parse_args(rest)
        except SystemExit as exc:
            problems.append(f"{shlex.join(argv)}: does not parse (exit {exc.code})")
    return problems


def test_the_command_check_catches_made_up_flags_and_bad_values(capsys) -> None:
    text = """`python pipelines/run_pipeline.py --providers shopify --no-such-flag`
    ```sh
    make run-pipeline ARGS="--limit ten"
    python pipelines/run_pipeline.py verify --offline
    ```"""
    problems = command_problems(text)
    capsys.readouterr()  # argparse's own message
    assert problems == [
        "--providers shopify --no-such-flag: no flag --no-such-flag",
        "--limit ten: does not parse (exit 2)",
    ]


@pytest.mark.parametrize("page", sorted(EVERYTHING))
def test_every_command_line_shown_uses_real_flags(page: str, capsys) -> None:
    assert command_problems(EVERYTHING[page]) == [], page


def config_keys(text: str) -> set[tuple[str, str]]:
    """Every ``(section, key)`` the text shows: TOML blocks (commented keys too) and inline
    mentions such as ``[providers.shopify] bulk`` or ``pipeline.max_delete_share``."""
    keys = set()
    for lang, body in FENCE.findall(text):
        if lang != "toml" or "[project" in body:  # a plug-in's pyproject.toml, not settings
            continue
        section = ""
        for line in body.splitlines():
            line = re.sub(r"^#\s?", "", line.strip())
            if header := re.fullmatch(r"\[([a-z_.]+)\]\s*(?:#.*)?", line):
                section = header.group(1)
            elif line.startswith("[["):  # a list of tables (sink targets): keys depend on kind,
                section = ""  # checked per kind by tests/pipelines/test_sinks.py
            elif (key := re.match(r"([a-z_]+)\s*=", line)) and section:
                keys.add((section, key.group(1)))
    keys |= set(re.findall(r"`\[([a-z_]+(?:\.[a-z]+)?)\] ([a-z_]+)", text))
    sections = r"pipeline|orchestration|providers\.(?:shopify|amazon|ebay)"
    keys |= set(re.findall(rf"`({sections})\.([a-z_]+)`", text))
    return keys - NOT_KEYS


def unknown_key_errors(section: str, key: str, tmp_path: Path) -> str:
    """What the real validators say of ``[section] key`` (any value): '' when the key is known."""
    if section == "secrets.refs":
        return ""
    path = tmp_path / "pipeline.toml"
    path.write_text(f'[{section}]\n{key} = "x"\n')
    raw, messages = tomllib.loads(path.read_text()), []
    checks = (
        lambda: load_config(path, PROVIDERS),
        lambda: QualityConfig.from_table(raw.get("quality", {})),
        lambda: AnomalyConfig.from_table(raw.get("anomaly", {})),
        lambda: read_orchestration(raw.get("orchestration", {}), PROVIDERS),
        lambda: checked("sinks", SinksModel, raw.get("sinks", {})),
    )
    for check in checks:
        try:
            check()
        except ConfigError as exc:
            messages.append(str(exc))
    text = "; ".join(messages)
    name = re.escape(f"{section}.{key}")
    unknown = rf"{name}: unknown (setting|key)|{re.escape(section)}: (unknown section|no such)"
    return text if re.search(unknown, text) else ""


def test_the_config_key_check_tells_known_from_unknown(tmp_path: Path) -> None:
    assert not unknown_key_errors("pipeline", "data_dir", tmp_path)
    assert not unknown_key_errors("orchestration.schedule", "cron", tmp_path)
    assert unknown_key_errors("pipeline", "no_such_key", tmp_path)
    assert unknown_key_errors("providers.shopify", "pages", tmp_path)


@pytest.mark.parametrize("page", sorted(EVERYTHING))
def test_every_config_key_shown_exists(page: str, tmp_path: Path) -> None:
    for section, key in sorted(config_keys(EVERYTHING[page])):
        if section.startswith("quality.rules"):
            continue  # rule codes: checked by the quality tests against RULES_BY_CODE
        errors = unknown_key_errors(section, key, tmp_path)
        assert not errors, f"{page} shows [{section}] {key}: {errors}"


def test_the_site_builds_strictly_and_offline(tmp_path: Path) -> None:
    """``make docs``: a broken link, anchor or nav entry fails the build."""
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, check=False, env={"NO_MKDOCS_2_WARNING": "1",
        "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-3000:]
    assert (tmp_path / "site" / "lake" / "index.html").exists()
    assert json.loads((tmp_path / "site/schema/products.schema.json").read_text())["properties"]


def test_every_provider_variable_named_is_a_declared_setting() -> None:
    """``SHOPIFY_…``, ``AMAZON_…``, ``EBAY_…`` names (not the values an option declares, such as
    eBay marketplace ids, nor the retired ``AMAZON_PAAPI_…`` settings the migration error names)."""
    declared = {s.env for p in PROVIDERS.values() for s in p.settings}
    values = {str(v) for p in PROVIDERS.values() for o in p.options for v in o.choices or ()}
    pattern = re.compile(r"\b((?:SHOPIFY|AMAZON|EBAY)_[A-Z0-9_]*[A-Z0-9])\b")
    for page, text in EVERYTHING.items():
        for name in set(pattern.findall(text)) - declared - values:
            assert name == "AMAZON_PAAPI", f"{page} names {name}"
