"""The Word template. Owns: reading Word packages (wordxml, wordfields), Word's merge fields
(merge, switches), rendering letters and text templates (render, text), the template doctor
(doctor, tags) and accessibility findings (accessibility).
May import: chart, errors, fields, files, untrusted, words."""
