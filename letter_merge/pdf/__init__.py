"""From .docx to PDF and back. Owns: the converters (convert), many letters as one document and
its PDF split back (combine, isolate, split, verify), accessible and archival PDFs
(conformance), and reading PDFs (reading, pages).
May import: chart, config, errors, files, process, template, words."""
