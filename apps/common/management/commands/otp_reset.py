"""``manage.py otp_reset --username NAME``: remove a member of staff's TOTP devices (a lost or new
phone). They log in with their password next time and enrol a new device before anything else."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.common.mfa import devices_reset


class Command(BaseCommand):
    help = "Remove a user's TOTP devices so that they enrol again at their next admin login."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)

    def handle(self, *args, username, **options):
        try:
            user = get_user_model()._default_manager.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {username!r}") from None
        count = devices_reset(user=user, actor=None)
        self.stdout.write(f"removed {count} device(s) of {username}; they enrol again at their next login")
