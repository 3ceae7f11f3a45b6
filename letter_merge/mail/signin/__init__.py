"""Signing in for mail with OAuth 2.0: which provider (oauth), Microsoft's and Google's flows,
and what they share (common: the errors, XOAUTH2, HTTPS, the system keyring).
May import: config, environment, errors, steps."""
