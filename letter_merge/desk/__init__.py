"""The desk: the whole July batch from a page in the browser, served on this machine only.
Owns: the page and its API (app), its security (security), its one running job (jobs), the
server (server). Every rule and decision is asked of app/ and records/, never made here.
May import: app, batch, config, decisions, errors, pdf, process, records, steps, words."""
