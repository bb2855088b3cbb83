from tests.conftest import *  # noqa: F403  (the same cast of users and WABAs)
