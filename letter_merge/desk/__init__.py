"""The desk: the whole July batch from a page in the browser, served on this machine only."""
