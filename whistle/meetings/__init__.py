"""Meetings the reporter asks for, and their minutes (Directive art. 9(2), 18).

:mod:`~whistle.meetings.tasks` holds the task (the request, its due date, held or cancelled),
:mod:`~whistle.meetings.minutes` the minutes and their versions (the reporter's corrections
and approval), :mod:`~whistle.meetings.views` the handler's pages; the reporter's side is in
the mailbox (whistle/reporting/views/mailbox/).
"""
