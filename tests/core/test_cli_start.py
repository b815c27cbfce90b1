"""`omi-bot` starts without loading the core for what does not need it: `--help` lists every
verb from cli.main alone, and a verb's module is imported when that verb runs."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import click

import cli
from cli.main import LAZY_VERBS, main

HEAVY = (
    "sqlalchemy", "alembic", "osc_sdk_python", "slack_bolt", "jinja2", "commands.bootstrap",
    "commands.model",
)  # fmt: skip
ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_every_verb_without_importing_the_core() -> None:
    script = (
        "import sys\n"
        "from cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    *help_text, loaded = done.stdout.strip().splitlines()
    assert loaded == "loaded: []"
    listed = {line.split()[0] for line in help_text if line.startswith("  ") and line.strip()}
    assert set(LAZY_VERBS) | {"db", "sandbox", "worker"} <= listed


def test_the_lines_help_shows_are_the_verbs_own() -> None:
    ctx = click.Context(main)
    for name, (_, _, line) in LAZY_VERBS.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        assert command.get_short_help_str(limit=1000) == line


def test_every_verb_the_cli_modules_define_is_reachable() -> None:
    defined: list[click.Command] = []
    for module in pkgutil.iter_modules(cli.__path__):
        loaded = importlib.import_module(f"cli.{module.name}")
        defined += [v for v in vars(loaded).values() if isinstance(v, click.Command)]
    ctx = click.Context(main)
    # A group's verbs, those it imports when they run included.
    children = {
        id(command.get_command(ctx, name))
        for command in defined
        if isinstance(command, click.Group)
        for name in command.list_commands(ctx)
    }
    reachable = {id(main.get_command(ctx, name)) for name in main.list_commands(ctx)}
    for command in defined:
        if command is not main and id(command) not in children:
            assert id(command) in reachable, f"{command.name} is not an omi-bot verb"


def test_a_verb_of_a_group_is_imported_when_it_runs() -> None:
    script = (
        "import sys\n"
        "from cli.main import main\n"
        "try:\n"
        "    main(['versions', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('loaded:', 'cli.preview' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    *help_text, loaded = done.stdout.strip().splitlines()
    assert loaded == "loaded: False"
    assert any(line.split()[:1] == ["preview"] for line in help_text)
