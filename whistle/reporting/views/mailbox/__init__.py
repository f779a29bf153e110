"""The reporter's follow-up mailbox, opened with the case code alone.

Status, acknowledgement and feedback, the conversation, replies with files, files from the
handlers, the signed receipt, and meetings with their minutes to approve or correct
(whistle/meetings/minutes.py). Sessions end on request and after the idle time.
"""

from whistle.reporting.views.mailbox import answers, page, receipt
from whistle.reporting.views.mailbox.blueprint import bp

__all__ = ["answers", "bp", "page", "receipt"]
