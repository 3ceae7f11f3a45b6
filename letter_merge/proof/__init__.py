"""Looking at letters before they go. Owns: one letter's preview (preview), the checks on each
PDF (checks), the proof pack (pack) and its page (page).
May import: batch, config, errors, figures, files, pdf, process, progress, records, template,
words, workbook."""
