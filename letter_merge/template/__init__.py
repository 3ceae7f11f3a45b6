"""The Word template: reading Word packages (wordxml), rendering letters and text templates
(render, text), and the template doctor (doctor). May import: chart and the top-level modules up
to fields."""
