"""newsdedupe's crawler: outlets -> discovery -> fetch -> extract -> store (the Scrapy project)."""

__version__ = "0.1.0"
