"""``syncline user add|password|remove|list`` and ``syncline token create|revoke``.

Run on the server's machine, against the project's state store: whoever can run them can read
the store anyway. Each change is written to the audit log as done by ``cli``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from syncline.cli.output import console, handles_errors
from syncline.cli.serve import ProjectOpt, open_server_store, project_root, shown_url

__all__ = ["register_users"]

RoleOpt = Annotated[str, typer.Option("--role", help="viewer, editor or admin.")]
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@handles_errors
def user_add(
    name: Annotated[str, typer.Argument(help="User name to sign in with.")],
    project: ProjectOpt = None,
    password_stdin: PasswordStdin = False,
    role: RoleOpt = "admin",
) -> None:
    """Add a dashboard user (the password is prompted, or read with --password-stdin).

    Roles: admin (users, connections, tokens, and all an editor does), editor (syncs, models,
    runs), viewer (reads; no SQL, no secrets, no runs). The default, admin, is what every user
    was before roles existed.
    """
    from syncline.server.auth.security import check_role, create_user
    from syncline.server.project.audit import record

    check_role(role)
    password = _password(password_stdin)
    url, engine, sessions = open_server_store(project_root(project))
    try:
        with sessions() as session:
            create_user(session, name, password, role)
            record(session, "cli", "created", f"user {name}", f"role {role}")
            session.commit()
    finally:
        engine.dispose()
    console.print(f"User [bold]{name}[/bold] added ({role}) to the state store {shown_url(url)}; "
                  "sign in on the dashboard of `syncline serve` on the same project.")


@handles_errors
def user_password(
    name: Annotated[str, typer.Argument(help="The user.")],
    project: ProjectOpt = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a user's password; every session of theirs ends (signed out everywhere)."""
    from syncline.server.auth.security import set_password
    from syncline.server.project.audit import record

    password = _password(password_stdin)
    _, engine, sessions = open_server_store(project_root(project))
    try:
        with sessions() as session:
            set_password(session, name, password)
            record(session, "cli", "changed", f"user {name}", "password; sessions ended")
            session.commit()
    finally:
        engine.dispose()
    console.print(f"Password of [bold]{name}[/bold] changed; their sessions ended.")


@handles_errors
def user_remove(
    name: Annotated[str, typer.Argument(help="The user.")], project: ProjectOpt = None
) -> None:
    """Remove a user: their sessions and API tokens end with them."""
    from syncline.server.auth.security import delete_user
    from syncline.server.project.audit import record

    _, engine, sessions = open_server_store(project_root(project))
    try:
        with sessions() as session:
            delete_user(session, name)
            record(session, "cli", "deleted", f"user {name}")
            session.commit()
    finally:
        engine.dispose()
    console.print(f"User [bold]{name}[/bold] removed; their sessions and tokens ended.")


@handles_errors
def user_list(project: ProjectOpt = None) -> None:
    """The dashboard's users and their roles."""
    from sqlalchemy import select

    from syncline.server.project.models import User

    _, engine, sessions = open_server_store(project_root(project))
    try:
        with sessions() as session:
            for user in session.scalars(select(User).order_by(User.username)):
                console.print(f"{user.username}\t{user.role}")
    finally:
        engine.dispose()


@handles_errors
def token_create(
    name: Annotated[str, typer.Argument(help="A name to tell the token apart, e.g. airflow.")],
    project: ProjectOpt = None,
    role: RoleOpt = "editor",
    user: Annotated[str | None, typer.Option(
        "--user", help="Owner (default: the first admin); the token never exceeds its role.",
    )] = None,
) -> None:
    """Create an API token for an orchestrator or a script and print it (shown once)."""
    from sqlalchemy import select

    from syncline.errors import ConfigError
    from syncline.server.auth.security import create_token, get_user
    from syncline.server.project.audit import record
    from syncline.server.project.models import User

    _, engine, sessions = open_server_store(project_root(project))
    try:
        with sessions() as session:
            if user is not None:
                owner = get_user(session, user)
            else:
                found = session.scalar(select(User).where(User.role == "admin").order_by(User.id))
                if found is None:
                    raise ConfigError("no admin user to own the token; add one with "
                                      "`syncline user add NAME --role admin` or pass --user")
                owner = found
            _, token = create_token(session, owner, name, role)
            record(session, "cli", "created", f"token {name}",
                   f"role {role}, owner {owner.username}")
            session.commit()
    finally:
        engine.dispose()
    sys.stdout.write(token + "\n")


@handles_errors
def token_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")], project: ProjectOpt = None
) -> None:
    """Revoke every live API token called NAME."""
    from sqlalchemy import select

    from syncline.errors import ConfigError
    from syncline.server.project.audit import record
    from syncline.server.project.models import ApiToken, utcnow

    _, engine, sessions = open_server_store(project_root(project))
    try:
        with sessions() as session:
            rows = list(session.scalars(select(ApiToken).where(
                ApiToken.name == name, ApiToken.revoked_at.is_(None))))
            if not rows:
                raise ConfigError(f"no live API token called `{name}`")
            for row in rows:
                row.revoked_at = utcnow()
            record(session, "cli", "deleted", f"token {name}", f"{len(rows)} revoked")
            session.commit()
    finally:
        engine.dispose()
    console.print(f"Token [bold]{name}[/bold] revoked ({len(rows)}).")


def register_users(app: typer.Typer) -> None:
    """Add the ``user`` and ``token`` command groups to the ``syncline`` app."""
    users = typer.Typer(help="Dashboard users.", no_args_is_help=True)
    users.command("add")(user_add)
    users.command("password")(user_password)
    users.command("remove")(user_remove)
    users.command("list")(user_list)
    app.add_typer(users, name="user")
    tokens = typer.Typer(help="API tokens for orchestrators and scripts.", no_args_is_help=True)
    tokens.command("create")(token_create)
    tokens.command("revoke")(token_revoke)
    app.add_typer(tokens, name="token")
