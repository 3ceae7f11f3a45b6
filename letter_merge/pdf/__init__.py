"""From .docx to PDF and back: the converters (convert: what they share; soffice: finding
LibreOffice; libreoffice and word; converters: choosing one), many letters as one document and
its PDF split back (combine), and reading PDFs (reading: text and page images). May import: chart
and the top-level foundation modules."""
