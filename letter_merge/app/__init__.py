"""The application layer both front ends stand on: the command line (cli.py) and the desk
(desk/). Each command's work is one function here, taking typed arguments and returning a typed
result, and every rule a front end would otherwise hold ("--only is for a test send", where the
password comes from, what status says when the inputs cannot be read) lives here once; the
front ends only parse input and render results. May import every earlier stage; front ends
import it (and config, errors, words, steps), not the stages beneath it."""
