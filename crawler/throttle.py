"""AutoThrottle that leaves alone the download slots whose delay an outlet set itself."""
from __future__ import annotations

from typing import Any

from scrapy.extensions.throttle import AutoThrottle


class OutletAutoThrottle(AutoThrottle):
    """Adaptive delays for every site, except where the outlets file fixed `download_delay` (DOWNLOAD_SLOTS).

    Scrapy's AutoThrottle adjusts every slot, including ones configured in DOWNLOAD_SLOTS, and never below
    DOWNLOAD_DELAY, so an outlet's own delay (shorter or longer) would be overridden after its first response.
    """

    def _response_downloaded(self, response: Any, request: Any, spider: Any = None) -> None:
        fixed = self.crawler.settings.getdict("DOWNLOAD_SLOTS")
        key = request.meta.get("download_slot")
        if key is not None and "delay" in fixed.get(key, {}):
            return
        super()._response_downloaded(response, request, spider)
