"""Log dropped items as one short line (reason and URL) instead of Scrapy's full item dump."""
from __future__ import annotations

import logging
from typing import Any

from scrapy.logformatter import LogFormatter


class NewsLogFormatter(LogFormatter):
    def dropped(self, item: Any, exception: BaseException, response: Any, spider: Any) -> dict[str, Any]:
        # Drops are counted per outlet and reason in the run report; the log only needs to name the page.
        return {"level": logging.INFO, "msg": "dropped %(reason)s", "args": {"reason": str(exception)}}
