"""letter-merge tests: fast library and CLI tests, and end-to-end tests with real LibreOffice."""
