"""Browser tests: a real chromium driven through the whole journey."""
