"""The Word template. Owns: reading Word packages (wordxml, wordfields, controls), Word's merge
fields (fieldcode; merge_analysis for check, merge_fill for each letter; switches), rendering
letters and text templates (render, text), the template doctor
(doctor, tags), accessibility findings (accessibility), what a letter states (statement), and
the HTML email made from Word or HTML (html_email).
May import: chart, clock, config, errors, fields, files, untrusted, words."""
