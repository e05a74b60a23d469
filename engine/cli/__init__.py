"""The ``safeguard`` command line: one module per subcommand.

Only the CLI prints, exits and configures logging. Exit codes: 0 compliant or
nothing to do, 2 violations or pending changes, 1 a failed run (bad input, a
failed API call). User errors print a message, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from engine import __version__
from engine.cli._logging import configure_logging
from engine.errors import SafeguardError

__all__ = ["main", "cli"]

# Subcommands, each a click command named like its module's attribute.
_COMMANDS = (
    ("engine.cli.plan", "plan"),
    ("engine.cli.validate", "validate"),
    ("engine.cli.import_export", "import_group"),
    ("engine.cli.actions", "actions"),
    ("engine.cli.collect", "collect"),
    ("engine.cli.simulate", "simulate"),
    ("engine.cli.apply", "apply"),
    ("engine.cli.apply", "rollback"),
    ("engine.cli.audit", "audit"),
    ("engine.cli.test", "test"),
    ("engine.cli.fmt", "fmt"),
    ("engine.cli.diff", "diff"),
)


class _Group(click.Group):
    """A group that suggests the closest command for a misspelt one."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name is not None and self.get_command(ctx, name) is None and not name.startswith("-"):
            from engine.diagnostics import suggest

            guess = suggest(name, self.list_commands(ctx))
            hint = f" Did you mean '{guess}'?" if guess else ""
            ctx.fail(f"No such command '{name}'.{hint}")

        return super().resolve_command(ctx, args)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="safeguard")
@click.option("-v", "--verbose", count=True, help="Log more: -v for progress events, -vv for debug events.")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    show_default=True,
    help="Format of log events on stderr; auto means console on a terminal, JSON lines otherwise.",
)
def cli(verbose: int, log_format: str) -> None:
    """Policy-as-code checks and remediation for FTC Safeguards Rule compliance."""
    json_logs = None if log_format == "auto" else log_format == "json"
    configure_logging(verbose, json_logs)


def _register() -> None:
    for module_name, attribute in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name == module_name:
                continue
            raise
        command = getattr(module, attribute, None)
        if command is not None:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = cli.main(args=argv, prog_name="safeguard", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except SafeguardError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
