"""From .docx to PDF and back. Owns: the converters (convert: what they share; soffice: finding
LibreOffice; libreoffice and word, with word_worker; converters: choosing one), many letters as
one document and its PDF split back (combine, isolate, split, verify), accessible and archival
PDFs (conformance), and reading PDFs (reading, pages).
May import: chart, config, environment, errors, files, process, template, words."""
