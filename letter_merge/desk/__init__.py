"""The desk: the whole July batch from a page in the browser, served on this machine only.
Owns: the application put together (app), what it keeps between requests (state), what the page
asks and the route table (routes), the results in the page's words (views), its security
(security), its one running job (jobs), the server (server). Every rule and decision is asked of
app/, never made here.
May import: app, clock, config, errors, paths, progress, steps, words."""
