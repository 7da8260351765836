from crawler.cli import entry

entry()
