#!/usr/bin/env python
"""Django's command-line utility for the flows dashboard."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsadmin.settings")
    # Writing migrations is development work that needs no production secrets: without DEBUG set,
    # settings would refuse to load for want of SECRET_KEY and FIELD_ENCRYPTION_KEYS.
    if sys.argv[1:2] == ["makemigrations"]:
        os.environ.setdefault("DEBUG", "true")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
