"""The chart in a letter: what it shows (model), drawing it (drawing), and the picture a template
inserts with `{{ chart }}` (picture). May import: the top-level modules up to fields."""
