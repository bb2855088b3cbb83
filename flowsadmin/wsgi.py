"""WSGI entry point for the web server, the Procfile's `web`: `granian --interface wsgi flowsadmin.wsgi:application`."""

import gc
import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsadmin.settings")
django_application = get_wsgi_application()

from exchange.wsgi import with_lean_endpoint  # noqa: E402  (needs the apps loaded)

# Meta's data-exchange calls skip Django's middleware; every other URL is Django's.
application = with_lean_endpoint(django_application)

# Refuse to serve with encryption keys that cannot read the stored secrets, rather than fail on the
# first page that needs one.
from wabas.checks import unreadable_secret  # noqa: E402

if (table := unreadable_secret()) is not None:
    raise ImproperlyConfigured(
        f"FIELD_ENCRYPTION_KEYS cannot decrypt the secrets stored in {table}."
    )

# Everything loaded so far lives as long as the process: keep it out of the garbage collector's
# full passes, which otherwise walk the whole of Django on the endpoint's hot path.
gc.freeze()
