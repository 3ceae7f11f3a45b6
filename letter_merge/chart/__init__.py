"""The chart in a letter. Owns: what it shows (model), drawing it (drawing), and the picture a
template inserts with `{{ chart }}` (picture).
May import: figures, files, process, words."""
