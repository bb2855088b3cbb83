"""The send pipeline: freezing a campaign's audience, and sending to it at the number's pace.

- `freeze.start_campaign` turns a due campaign's audience into Recipient rows in a few SQL statements;
- `sender.send_due` sends to the due recipients for a while, each claimed before its send;
- `sender.send_inline` does the same in the calling thread with a given client (seed_demo);
- `outcomes.apply_error` is what each of Meta's answers does to a recipient and to the campaign.
"""

from __future__ import annotations

from .freeze import start_campaign
from .sender import finish_if_done, send_due, send_inline

__all__ = ["finish_if_done", "send_due", "send_inline", "start_campaign"]
