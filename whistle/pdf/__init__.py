"""PDFs a person reads: the case file for counsel and the letter that hands a reporter's
identity to a public authority, drawn with fpdf2 in a short-lived process of its own."""
