"""Looking at letters before they go: one letter's preview, the checks on each PDF, the proof
pack and its page. May import: pdf, template, chart and every top-level module."""
