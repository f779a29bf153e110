"""The whistleblower unit's workspace: inbox, case view and the handling actions."""
