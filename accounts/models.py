"""No models: users are Django's, roles are its groups (see roles.py).

The module exists because Django sends post_migrate only to apps with a models module, and the role
sync (apps.py) hangs on accounts' post_migrate.
"""
