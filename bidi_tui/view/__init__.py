"""What the CLI and the dashboard show, in one vocabulary: states, formats, columns, filters.

Imports no Textual: the one-shot command uses it as the dashboard does.
"""
