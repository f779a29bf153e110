"""The reporter's side: the report form and its intake, the case code and the mailbox where
the reporter follows up, the signed receipt and its check."""
