"""Turn article records into stories (near-duplicates) and candidate events, and write them out.

Pure and seeded: nothing here imports Scrapy or trafilatura.
"""
