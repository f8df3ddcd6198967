"""One module per tab: its callbacks (plain functions) first, then `build()` for the layout."""
