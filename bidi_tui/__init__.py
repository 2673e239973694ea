"""bidi-tui: watch which browsers of a farm can take a new WebDriver BiDi session."""

__version__ = "0.1.0"
