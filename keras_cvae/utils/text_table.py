"""Plain-text tables for the terminal: `keras-cvae presets` and the export report."""


def format_table(rows):
    """`rows` (the first is the header) as left-aligned columns separated by two spaces.

    Example:

    >>> print(format_table([("name", "bits/dim"), ("digits_basic", "2.292")]))
    name          bits/dim
    digits_basic  2.292
    """
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows
    )
