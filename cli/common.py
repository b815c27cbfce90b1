"""What every `omi-bot` verb shares: one line and an exit code for every error, the core built
on first use, who is acting, and plain tables.

User errors: one line on stderr, exit 2, nothing changed. Cloud or infrastructure failures:
one line, exit 1. Never a traceback (OMI_DEBUG=1 shows one, for whoever debugs)."""

from __future__ import annotations

import functools
import getpass
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from commands.config import Settings
from commands.errors import OmiError, UserError

if TYPE_CHECKING:
    from commands.bootstrap import Core
    from commands.model import Actor

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> None:
    click.echo(f"omi-bot: {message}", err=True)
    sys.exit(code)


def reported(fn: F) -> F:
    """Turns every error into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as err:
            fail(str(err), 2)
        except OmiError as err:
            fail(str(err), 1)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as err:
            if os.environ.get("OMI_DEBUG"):
                raise
            fail(infrastructure_message(err), 1)

    return wrapper  # type: ignore[return-value]


def infrastructure_message(err: Exception) -> str:
    from sqlalchemy.exc import SQLAlchemyError

    from storage.db import timed_out

    limit = timed_out(err)
    if limit is not None:
        # Not the URL's fault: a lock held elsewhere, or a server too busy; nothing was done.
        return f"the database did not answer in time ({limit}); nothing was done, try again."
    if isinstance(err, SQLAlchemyError):
        return (
            "the database could not be used "
            f"({type(getattr(err, 'orig', err) or err).__name__}); check OMI_DATABASE_URL."
        )
    return f"unexpected {type(err).__name__}; run again with OMI_DEBUG=1 for details."


class Ctx:
    """Builds the core on first use, so `--help` and `sandbox` need no database."""

    def __init__(self) -> None:
        self._core: Core | None = None

    @property
    def core(self) -> Core:
        if self._core is None:
            from commands.bootstrap import bootstrap

            self._core = bootstrap(Settings.from_env())
        return self._core


pass_ctx = click.make_pass_decorator(Ctx, ensure=True)


def who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def operator() -> Actor:
    """The CLI runs with the database's rights: its user is an operator, not a Slack user."""
    from commands.model import Actor  # imported here: `omi-bot --help` needs no domain model

    return Actor.cli_operator(who())


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip())


class LazyGroup(click.Group):
    """A group whose verbs in `lazy` (name -> module, attribute, the one line its help shows)
    are imported on first use, so a verb loads only what it needs."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            module, attribute, _ = self.lazy[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The verbs not loaded yet are listed from their line, without importing them.
        shown: dict[str, click.Command] = {
            name: self.commands.get(name) or click.Command(name, help=self.lazy[name][2])
            for name in self.list_commands(ctx)
        }
        rows = [(name, cmd) for name, cmd in shown.items() if not cmd.hidden]
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


def form_options(fn: F) -> F:
    for option in reversed(
        [
            click.option("--software-version", help="Software version (default: the last one's)."),
            click.option("--os", "operating_system", help="Operating system."),
            click.option(
                "--software-base", multiple=True, help="A software base element (repeat)."
            ),
            click.option("--instructions", help="Instructions for use."),
        ]
    ):
        fn = option(fn)
    return fn
