"""What every page shares: deny by default, error pages, languages, templating, security
headers, downloads, form helpers, upload parsing, throttles, the health check."""
