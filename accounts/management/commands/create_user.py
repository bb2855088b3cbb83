from __future__ import annotations

import getpass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.roles import ROLES, sync_roles


class Command(BaseCommand):
    help = "Create a user with a role (Admin, Marketer or Campaign manager), or change an existing user's role."

    def add_arguments(self, parser: object) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=ROLES)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password",
            help="Without it the password is asked for; don't pass real passwords on a shared shell.",
        )

    def handle(
        self, username: str, role: str, email: str, password: str | None, **options: object
    ) -> None:
        sync_roles()
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            if password is None:
                password = getpass.getpass(f"Password for {username}: ")
            candidate = User(username=username, email=email)
            try:
                validate_password(password, candidate)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from None
        with transaction.atomic():
            if user is None:
                user = User.objects.create_user(username=username, email=email, password=password)
                verb = "Created"
            else:
                verb = "Updated"
            user.groups.set([Group.objects.get(name=role)])
        self.stdout.write(f"{verb} {username} as {role}.")
