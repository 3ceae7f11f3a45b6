"""The application layer both front ends stand on (the command line, cli.py; the desk, desk/).
Owns: each command's work as one function taking typed arguments and returning a typed result,
and every rule the front ends share ("--only is for a test send", where the password comes
from, what status says when the inputs cannot be read); the front ends only parse and render.
Front ends import nothing else of letter-merge but the leaf helpers (errors, words, steps,
config, paths, progress, clock): what they render is handed to them from here, its types too.
May import: approve, averages, batch, build, config, decisions, errors, fields, figures, files,
mail, pdf, process, progress, proof, recipients, records, steps, sync, template, words, workbook."""
