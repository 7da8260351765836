"""Topic crawls against a fixture site on 127.0.0.1: three fictional outlets (English, Traditional and
Simplified Chinese) where only some articles are about Hong Kong surveillance, with look-alikes (cameras in
another city, Hong Kong without cameras, "cctv" inside another word, China Central Television), a search
endpoint paged by rel=next and by a {page} placeholder, and a sitemap index with dated child sitemaps.

The crawl uses the project's own `topics.toml` (topic `hk-surveillance`). Every page and text here was written
for these tests.
"""
from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from conftest import REPO, finish_cli, query, read_jsonl, run_cli, start_cli

from crawler.sitesrv import FixtureSite
from crawler.topics import Topic, find_topic

TOPICS = REPO / "topics.toml"
TOPIC = "hk-surveillance"
SINCE = "2024-01-01"


@dataclass(frozen=True)
class Page:
    """One article of the fixture site and the truth about it."""

    outlet: str
    path: str
    lang: str
    title: str
    published: str
    paragraphs: tuple[str, ...]
    on_topic: bool
    listed_title: str | None = None  # the title its feed or sitemap shows, when it differs


# --- the articles -------------------------------------------------------------------------------------------
HL = "/harbourline/news"
GW = "/gangwan/news"
XC = "/xincheng/news"

PAGES: dict[str, Page] = {
    # Harbourline Daily (English): feed and search.
    "E1": Page("harbourline", f"{HL}/2025/03/04/police-cctv-estates.html", "en",
               "Police to install 1,200 CCTV cameras in Hong Kong housing estates", "2025-03-04", (
                   ("The Hong Kong Police Force will install 1,200 CCTV cameras in the common areas of eleven public "
                   "housing estates over the next two years, officers told a district council meeting on Tuesday."),
                   ("The cameras will cover lift lobbies, car parks and footbridges in Kwai Tsing and Sham Shui Po, "
                   "where residents have complained about vandalism and parcel thefts. Footage would be kept for "
                   "thirty days unless it was needed for an investigation."),
                   ("Several councillors asked who would be able to watch the recordings live. A police "
                   "representative said only officers at the district command centre would have access, and that "
                   "every viewing would be logged."),
                   ("Tenant groups said they supported better lighting and more patrols but had not been consulted "
                   "about the cameras. A public consultation is expected to open in May."),
               ), True),
    "E2": Page("harbourline", f"{HL}/2025/03/06/lamp-post-questions.html", "en",
               "Councillors press officials over lamp-post plan", "2025-03-06", (
                   ("District councillors spent most of Thursday's meeting questioning transport officials about the "
                   "next phase of Hong Kong's multi-functional lamp-post programme, which will add four hundred "
                   "posts along main roads in Kowloon."),
                   ("Members wanted to know whether the new posts would carry facial recognition software. Officials "
                   "said the posts would measure traffic flow and air quality only, and that no sensor on them could "
                   "identify a person."),
                   ("One councillor produced a supplier brochure advertising face-matching features for the same "
                   "model. Officials said those functions would be switched off and that an independent audit would "
                   "check the settings every year."),
                   ("The department will publish the technical specifications of the posts before installation "
                   "begins in the autumn."),
               ), True),
    "E3": Page("harbourline", f"{HL}/2025/02/20/privacy-border-gates.html", "en",
               "Privacy commissioner to review face-scanning gates at Hong Kong border", "2025-02-20", (
                   ("Hong Kong's privacy commissioner will review the face-scanning gates installed at two land "
                   "border crossings last year, after a traveller complained that her image had been kept without "
                   "her consent."),
                   ("The gates compare a live photograph with the chip in a passport and open within seconds. The "
                   "immigration department says images are deleted once the traveller has crossed, but the "
                   "complaint says a copy was kept to train staff."),
                   ("The commissioner's office said it would ask for the gates' retention settings and for records of "
                   "any image used to test the system. Its findings are expected within six months."),
                   ("Travellers who prefer not to use the gates can still queue at staffed counters, the department "
                   "said."),
               ), True),
    "E4": Page("harbourline", f"{HL}/2024/11/12/footbridge-camera-tender.html", "en",
               "Tender opens for 600 more surveillance cameras on Hong Kong footbridges", "2024-11-12", (
                   ("The Highways Department has invited bids to supply and maintain 600 surveillance cameras on "
                   "footbridges and subways across Hong Kong, according to tender papers published on Tuesday."),
                   ("The papers ask for cameras able to work in heavy rain and to send pictures to a central control "
                   "room. Bidders must also explain how recordings will be encrypted and who may view them."),
                   ("A department spokesman said the cameras were meant to spot flooding, broken lifts and crowding, "
                   "and that they would not be linked to any police database."),
                   "The tender closes in January, and the first cameras could be running by the summer.",
               ), True),
    "E5": Page("harbourline", f"{HL}/2024/10/02/hospital-footage-rules.html", "en",
               "Lawmakers ask for CCTV footage rules in Hong Kong hospitals", "2024-10-02", (
                   ("Hong Kong lawmakers asked the Hospital Authority on Wednesday to publish clear rules on how long "
                   "CCTV footage from wards and waiting rooms is kept and who may request it."),
                   ("The request followed a dispute in which a family was refused recordings of an emergency "
                   "department on the night their father fell. The authority said footage is normally kept for two "
                   "weeks."),
                   ("Patient groups said signs in waiting rooms should explain the rules in plain language, and that "
                   "patients should be able to ask for copies of recordings showing themselves."),
                   "The authority said it would review its guidelines and report back before the end of the year.",
               ), True),
    "O1": Page("harbourline", f"{HL}/2025/03/05/singapore-bus-cameras.html", "en",
               "Singapore adds surveillance cameras to bus interchanges", "2025-03-05", (
                   ("Singapore's Land Transport Authority will add surveillance cameras to twelve bus interchanges by "
                   "the end of the year, the authority said on Wednesday, after a rise in reports of harassment on "
                   "late-night services."),
                   ("The cameras will cover boarding bays and the walkways to nearby train stations. Recordings will "
                   "be kept for a month and shared with the police only on request."),
                   ("Commuter groups welcomed the plan but asked for more staff at the interchanges after midnight, "
                   "saying cameras alone would not make passengers feel safer."),
                   ("The authority said it would also improve lighting at the smaller interchanges in Woodlands and "
                   "Bedok."),
               ), False),
    "O2": Page("harbourline", f"{HL}/2025/03/03/ferry-fares-rise.html", "en",
               "Hong Kong ferry fares to rise in June", "2025-03-03", (
                   ("Ferry fares on six outlying island routes in Hong Kong will rise by an average of 4.2 per cent "
                   "from June, the Transport Department said on Monday, the first increase in three years."),
                   ("Operators had asked for nearly twice as much, citing fuel prices and the cost of replacing "
                   "ageing vessels. The department said the smaller rise balanced the operators' finances against "
                   "the needs of island residents."),
                   ("Monthly tickets for Cheung Chau and Mui Wo will rise by less than the single fares, and "
                   "concessions for older passengers will not change."),
                   ("Residents' groups said they would ask the Legislative Council to review the fare formula before "
                   "the next application."),
               ), False),
    "O3": Page("harbourline", f"{HL}/2025/03/02/procctvia-drones.html", "en",
               "Hong Kong start-up Procctvia raises funds for delivery drones", "2025-03-02", (
                   ("Procctvia, a Hong Kong start-up that builds small delivery drones, has raised HK$80 million from "
                   "investors to expand its trial service between outlying islands, the company said on Sunday."),
                   ("The drones carry parcels of up to three kilograms and fly fixed routes over the sea. Procctvia "
                   "says the trial has delivered medicines to clinics on two islands in under twenty minutes."),
                   ("The money will pay for a larger maintenance base in Tung Chung and for twenty more drones. The "
                   "company hopes to win approval for routes over land next year."),
                   ("Aviation officials said any expansion would need new safety checks, including tests in strong "
                   "wind."),
               ), False),
    "O4": Page("harbourline", f"{HL}/2025/03/01/broadcaster-harbour-gala.html", "en",
               "China Central Television airs Hong Kong harbour gala", "2025-03-01", (
                   ("China Central Television broadcast a two-hour gala from the Hong Kong waterfront on Saturday "
                   "night, with singers performing on a floating stage in Victoria Harbour."),
                   ("CCTV said the programme was watched by tens of millions of viewers on the mainland. Fireworks "
                   "closed the show shortly before midnight."),
                   ("Roads near the harbourfront were closed for most of the evening, and extra ferries ran to carry "
                   "spectators home."),
                   "Organisers said a similar gala could be held next year if the weather allowed.",
               ), False),
    "O5": Page("harbourline", f"{HL}/2025/01/15/macau-casino-gates.html", "en",
               "Macau casinos add facial recognition at entrances", "2025-01-15", (
                   ("Three casino operators in Macau have begun using facial recognition at their entrances to keep "
                   "out people who have asked to be barred from gambling, the gaming regulator said on Wednesday."),
                   ("Visitors walk past a camera that compares their faces with a list of self-excluded gamblers. "
                   "The regulator said pictures of other visitors are deleted at once."),
                   ("A lawyers' association asked the regulator to publish an independent check of the system's "
                   "error rate before the scheme is extended to other casinos."),
                   "The regulator said the trial would run until the end of the year.",
               ), False),
    # 港灣日報 (Traditional Chinese): sitemap index with dated children, a news sitemap, search with {page}.
    "T1": Page("gangwan", f"{GW}/2025/03/10/tuen-mun-cameras.html", "zh-Hant",
               "警方擬在屯門增設閉路電視", "2025-03-10", (
                   ("香港警方周一向屯門區議會表示，計劃在未來一年於區內多個公共屋邨及行人天橋增設約三百個閉路電視鏡頭，"
                   "以減少刑事毀壞及高空擲物案件。"),
                   "警方代表指，錄影片段一般保存三十一日，只有在調查需要時才會延長保存期，並會記錄每次翻看片段的人員。",
                   "有議員關注市民私隱，要求警方公開鏡頭位置地圖，並定期交代鏡頭的使用情況及破案數字。",
                   "警方回應會研究在社區會堂展示鏡頭分佈圖，並於年底前向區議會匯報首階段的成效。",
               ), True),
    "T2": Page("gangwan", f"{GW}/2024/05/21/border-face-gates.html", "zh-Hant",
               "私隱公署關注口岸新閘機", "2024-05-21", (
                   "香港個人資料私隱專員公署表示，已去信入境處，要求解釋陸路口岸新裝設的人臉識別閘機如何處理旅客的相片。",
                   "入境處表示，旅客的相片只會用作即時核對身份，完成過關後便會刪除，不會作其他用途。",
                   "有立法會議員指，不少旅客並不知道可以選擇使用人手櫃枱，要求當局在閘機旁加設清晰告示。",
                   "公署表示會在收到入境處的回覆後決定是否展開正式調查，並會公布結果。",
               ), True),
    "T3": Page("gangwan", f"{GW}/2025/01/08/camera-data-retention.html", "zh-Hant",
               "議員促交代鏡頭數據保存期", "2025-01-08", (
                   "多名香港立法會議員周三在會議上要求政府交代各部門監控鏡頭所收集數據的保存期限及查閱安排。",
                   "議員指，部分部門並沒有公開保存期限，市民亦不清楚可以如何查閱涉及自己的片段。",
                   "政府代表表示，各部門均須遵守私隱條例，並會研究制定統一指引，供所有部門參考。",
                   "有關注團體建議，當局應每年公布各部門鏡頭的數目和位置，以增加透明度。",
               ), True),
    "T4": Page("gangwan", f"{GW}/2023/11/15/old-cameras.html", "zh-Hant",
               "舊屋邨閉路電視老化", "2023-11-15", (
                   "香港房屋署表示，多個舊屋邨的閉路電視系統已使用超過十五年，畫面模糊，部分鏡頭經常故障。",
                   "署方計劃分階段更換系統，首批工程會在明年展開，涉及約二十個屋邨。",
                   "有居民組織表示，希望更換工程可以同時改善走廊照明，並在施工期間加強巡邏。",
                   "署方表示會在每個屋邨舉行簡介會，向居民解釋工程安排和時間表。",
               ), True),
    "T5": Page("gangwan", f"{GW}/2022/08/03/early-trial.html", "zh-Hant",
               "港府試用人臉識別系統", "2022-08-03", (
                   "港府表示，將在兩個政府大樓試用人臉識別系統，取代職員證進出辦公室，為期半年。",
                   "有職員工會關注相片的保存方式，要求政府容許職員選擇繼續使用職員證。",
                   "政府表示，參與試驗屬自願性質，相片會儲存在大樓內的伺服器，不會上載至其他系統。",
                   "試驗結束後，政府會檢討成效，再決定是否推廣至其他政府大樓。",
               ), True),
    "T6": Page("gangwan", f"{GW}/2023/05/30/school-cameras.html", "zh-Hant",
               "學校課室裝鏡頭惹議", "2023-05-30", (
                   "香港一所中學計劃在課室安裝閉路電視，校方表示是為了保障學生安全，但有家長及教師反對。",
                   "教師工會表示，課室鏡頭會影響教學氣氛，要求校方先諮詢全體教師及家長的意見。",
                   "校方表示，鏡頭只會在放學後開啟，片段保存七日，並會在下學年前舉行諮詢會。",
                   "教育局表示，學校須遵守私隱條例，並應在安裝前充分諮詢持份者。",
               ), True),
    "OT1": Page("gangwan", f"{GW}/2025/03/09/macau-cameras.html", "zh-Hant",
                "澳門增設監控鏡頭", "2025-03-09", (
                    "澳門治安警察局宣布，今年內會在新口岸及氹仔一帶增設約四百個監控鏡頭，以加強旅遊區的治安。",
                    "警方表示，鏡頭主要設於遊客集中的街道及巴士站，片段保存六十日。",
                    "有立法議員關注私隱保障，要求警方定期公布系統的使用情況及協助破案的數字。",
                    "警方回應指，系統運作受法律規管，並設有獨立委員會監察。",
                ), False),
    "OT2": Page("gangwan", f"{GW}/2025/03/02/ferry-fares.html", "zh-Hant",
                "香港渡輪下月加價", "2025-03-02", (
                    "香港運輸署宣布，六條離島渡輪航線的票價下月起平均上調百分之四點二，是三年來首次加價。",
                    "營辦商原本要求加價近一倍幅度，理由是燃油價格上升及需要更換老舊船隻。",
                    "長洲及梅窩航線的月票加幅較單程票為低，長者優惠則維持不變。",
                    "有離島居民組織表示，會要求立法會檢討渡輪票價的計算方式。",
                ), False),
    "OT3": Page("gangwan", f"{GW}/2025/02/11/shenzhen-metro-gates.html", "zh-Hant",
                "深圳地鐵站啟用刷臉閘機", "2025-02-11", (
                    "深圳地鐵宣布，十個車站本月起啟用人臉識別閘機，乘客登記後可以刷臉進站，毋須使用車票。",
                    "地鐵公司表示，乘客的相片經加密儲存，乘客可以隨時在應用程式內取消登記。",
                    "有法律學者指，當局應清楚說明相片的保存期限，以及會否與其他部門分享。",
                    "地鐵公司表示，如試行順利，明年會把服務擴展至全線車站。",
                ), False),
    # 新城晚报 (Simplified Chinese): feed and a section page, no search.
    "S1": Page("xincheng", f"{XC}/2025/03/07/council-questions.html", "zh-Hans",
               "立法会议员质询新措施", "2025-03-07", (
                   "香港立法会周三开会，多名议员就警方在各区增设闭路电视的计划提出质询，要求当局交代具体地点及开支。",
                   "保安局局长表示，新镜头会优先安装在罪案较多的屋邨和行人隧道，全部工程预计两年内完成。",
                   "有议员关注录像片段的保存期限，局长回应指片段一般保存三十一日，并设有严格的查阅记录。",
                   "局长又表示，当局会在明年向立法会提交检讨报告。",
               ), True),
    "S2": Page("xincheng", f"{XC}/2025/03/08/smart-lamp-posts.html", "zh-Hans",
               "香港智慧灯柱加装新功能引关注", "2025-03-08", (
                   "香港政府计划在九龙多条主要道路的智慧灯柱上加装新的感应器，有团体担心当局会借此引入人脸识别功能。",
                   "政府表示，灯柱只会收集交通流量和空气质素数据，不会安装任何可识别个人身份的装置。",
                   "有区议员要求政府公开灯柱所有设备的技术规格，并邀请独立专家定期检查。",
                   "政府回应指，会在安装前举行公众简介会，解释各项设备的用途。",
               ), True),
    "OS1": Page("xincheng", f"{XC}/2025/03/05/shenzhen-street-cameras.html", "zh-Hans",
                "深圳街头新增人脸识别摄像头", "2025-03-05", (
                    "深圳市公安局表示，今年将在南山区和福田区的主要街道新增约两千个人脸识别摄像头，以协助寻找走失人士。",
                    "公安局表示，摄像头拍摄的画面会保存九十日，只有获授权的人员才可以查阅。",
                    "有市民担心个人隐私受影响，要求当局公开系统的准确率及使用规则。",
                    "公安局回应指，系统运作符合相关法律规定，并会定期接受检查。",
                ), False),
    "OS2": Page("xincheng", f"{XC}/2025/03/04/cha-chaan-teng-show.html", "zh-Hans",
                "香港茶餐厅文化展览开幕", "2025-03-04", (
                    "一个介绍香港茶餐厅文化的展览周一在中环开幕，展出旧式餐牌、瓷碗和卡座，吸引不少市民参观。",
                    "主办单位表示，展品大部分由已结业的茶餐厅捐出，部分餐牌已有超过五十年历史。",
                    "展览亦设有互动区，让参观者学习冲调港式奶茶，以及了解菠萝包的制作过程。",
                    "展览将举行至五月底，市民可以免费入场参观。",
                ), False),
    "OS3": Page("xincheng", f"{XC}/2025/03/03/procctvia-drones.html", "zh-Hans",
                "香港初创公司Procctvia推出送货无人机", "2025-03-03", (
                    "香港初创公司Procctvia周日宣布完成新一轮融资，将扩大来往离岛的无人机送货服务。",
                    "Procctvia表示，无人机可以运载三公斤以内的包裹，已为两个离岛的诊所运送药物，最快二十分钟送达。",
                    "公司计划用新资金在东涌兴建维修中心，并增购二十架无人机，明年申请陆上航线。",
                    "民航处表示，任何扩展计划都需要通过新的安全测试，包括强风下的飞行测试。",
                ), False),
}

# What the crawl can reach: E5 only through search page 6 (beyond the cap of 5 pages), T4-T6 only through
# child sitemaps dated before --since.
UNREACHABLE = {"E5", "T4", "T5", "T6"}
ON_TOPIC = {k for k, p in PAGES.items() if p.on_topic and k not in UNREACHABLE}
OFF_TOPIC = {k for k, p in PAGES.items() if not p.on_topic}
# O4's feed title names China Central Television (an exclusion): skipped before fetching.
PREFETCH_SKIPPED = {"O4"}


# --- the site ------------------------------------------------------------------------------------------------
NAV = {"en": ("Home", "CCTV", "Most read"), "zh-Hant": ("首頁", "閉路電視", "最多人看"),
       "zh-Hans": ("首页", "闭路电视", "最多人看")}
# A sidebar naming an on-topic story, on every page: matching must use the article body, not the page.
SIDEBAR = {"en": PAGES["E1"].title, "zh-Hant": PAGES["T1"].title, "zh-Hans": PAGES["S1"].title}
OUTLET_NAMES = {"harbourline": "Harbourline Daily", "gangwan": "港灣日報", "xincheng": "新城晚报"}


def article_html(page: Page) -> str:
    home, tag, most_read = NAV[page.lang]
    body = "".join(f"<p>{p}</p>" for p in page.paragraphs)
    return (
        f'<!DOCTYPE html><html lang="{page.lang}"><head><meta charset="utf-8">'
        f"<title>{page.title} | {OUTLET_NAMES[page.outlet]}</title>"
        f'<meta property="og:title" content="{page.title}">'
        f'<meta property="article:published_time" content="{page.published}T09:00:00+08:00"></head><body>'
        f'<header><nav><a href="/{page.outlet}/">{home}</a> <a href="/{page.outlet}/tag/cctv.html">{tag}</a></nav>'
        f"</header><main><article><h1>{page.title}</h1>{body}</article>"
        f'<aside class="sidebar"><h2>{most_read}</h2><ol><li><a href="/{page.outlet}/">{SIDEBAR[page.lang]}</a>'
        f"</li></ol></aside></main><footer>© 2025 {OUTLET_NAMES[page.outlet]}</footer></body></html>"
    )


def rss(title: str, lang: str, keys: list[str]) -> str:
    items = "".join(
        f"<item><title>{PAGES[k].listed_title or PAGES[k].title}</title><link>{{{{BASE}}}}{PAGES[k].path}</link>"
        f"<pubDate>{_rfc822(PAGES[k].published)}</pubDate></item>"
        for k in keys
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<language>{lang}</language>{items}</channel></rss>")


def _rfc822(day: str) -> str:
    d = date.fromisoformat(day)
    return format_datetime(datetime(d.year, d.month, d.day, 1, 0, tzinfo=timezone.utc))


def urlset(keys: list[str], news: bool = False) -> str:
    entries = []
    for k in keys:
        p = PAGES[k]
        extra = ""
        if news:
            extra = (f"<news:news><news:publication><news:name>{OUTLET_NAMES[p.outlet]}</news:name>"
                     f"<news:language>zh-tw</news:language></news:publication>"
                     f"<news:publication_date>{p.published}T09:00:00+08:00</news:publication_date>"
                     f"<news:title>{p.title}</news:title></news:news>")
        entries.append(f"<url><loc>{{{{BASE}}}}{p.path}</loc><lastmod>{p.published}</lastmod>{extra}</url>")
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + "".join(entries) + "</urlset>")


def results_html(keys: list[str], next_href: str | None) -> str:
    """A search results page: result links (the outlet's article URLs), site links, maybe a next link."""
    links = "".join(f'<li><a href="{PAGES[k].path}">{PAGES[k].title}</a></li>' for k in keys)
    nxt = f'<a rel="next" href="{next_href}">Next ›</a>' if next_href else ""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Search</title></head><body>'
            f'<nav><a href="/">Home</a> <a href="/about.html">About</a></nav>'
            f"<ol class='results'>{links}</ol>{'<p>No results.</p>' if not keys else ''}{nxt}</body></html>")


# Harbourline's search for the topic's first English query: seven pages chained by rel=next.
HL_RESULT_PAGES = [["E1", "O5"], ["E3"], ["E1"], ["O2"], ["E4"], ["E5"], []]
# 港灣日報's search ({page} in the template): results on pages 1-2, page 3 empty (the crawl stops there), a
# page 4 that must never be asked for. Its second query has one page of results.
GW_RESULT_PAGES = [["T1", "OT3"], ["T3"], [], ["T3"]]
GW_SECOND_QUERY_PAGES = [["T2"], [], ["T2"]]

OUTLETS_TOML = """
[[outlet]]
id = "harbourline"
name = "Harbourline Daily"
domains = ["127.0.0.1"]
languages = ["en"]
feeds = ["{{BASE}}/harbourline/rss.xml"]
allow = ['/harbourline/news/']
search_url = "{{BASE}}/harbourline/search?q={query}"
download_delay = 0
concurrency = 4

[[outlet]]
id = "gangwan"
name = "港灣日報"
domains = ["127.0.0.1"]
languages = ["zh-Hant"]
sitemaps = ["{{BASE}}/gangwan/sitemap_index.xml"]
allow = ['/gangwan/news/']
search_url = "{{BASE}}/gangwan/search.html?kw={query}&p={page}"
download_delay = 0
concurrency = 4

[[outlet]]
id = "xincheng"
name = "新城晚报"
domains = ["127.0.0.1"]
languages = ["zh-Hans"]
feeds = ["{{BASE}}/xincheng/rss.xml"]
start_urls = ["{{BASE}}/xincheng/index.html"]
allow = ['/xincheng/news/']
download_delay = 0
concurrency = 4
"""

# Child sitemaps of 港灣日報's index: (file, lastmod or None, articles). Dated by URL or by lastmod.
GW_CHILDREN = [
    ("news-sitemap.xml", "2025-03-10", ["T1", "OT1"]),
    ("sitemap-2025-03.xml", None, ["OT2"]),
    ("sitemap-2024-05.xml", None, ["T2"]),
    ("sitemap-2023-11.xml", None, ["T4"]),      # before --since: not read
    ("sitemap-2022.xml", None, ["T5"]),         # a whole year before --since: not read
    ("sitemap-misc.xml", "2023-06-01", ["T6"]),  # undated URL, last modified before --since: not read
]
OLD_SITEMAPS = {"/gangwan/sitemap-2023-11.xml", "/gangwan/sitemap-2022.xml", "/gangwan/sitemap-misc.xml"}


def build_site(root: Path, topic: Topic) -> None:
    def write(rel: str, text: str) -> None:
        target = root / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    for page in PAGES.values():
        write(page.path, article_html(page))
    write("robots.txt", "User-agent: *\nDisallow: /private/\n")
    write("outlets.toml", OUTLETS_TOML)
    write("harbourline/rss.xml", rss("Harbourline Daily", "en", ["E1", "E2", "O1", "O2", "O3", "O4"]))
    write("xincheng/rss.xml", rss("新城晚报", "zh-CN", ["S1", "OS1", "OS3"]))
    write("xincheng/index.html",
          '<!DOCTYPE html><html><head><meta charset="utf-8"><title>新城晚报</title></head><body>'
          + "".join(f'<a href="{PAGES[k].path}">{PAGES[k].title}</a> ' for k in ("S2", "OS2", "S1"))
          + '<a href="/xincheng/about.html">关于我们</a></body></html>')
    index = "".join(
        f"<sitemap><loc>{{{{BASE}}}}/gangwan/{name}</loc>{f'<lastmod>{lastmod}</lastmod>' if lastmod else ''}</sitemap>"
        for name, lastmod, _ in GW_CHILDREN
    )
    write("gangwan/sitemap_index.xml", '<?xml version="1.0" encoding="UTF-8"?>'
          f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{index}</sitemapindex>')
    for name, _, keys in GW_CHILDREN:
        write(f"gangwan/{name}", urlset(keys, news=name.startswith("news")))

    # Search endpoints: _headers.toml maps each query (and page) to a results file.
    headers: list[str] = []
    en_queries = [q for _, q in topic.queries_for(["en"])]
    for qn, q in enumerate(en_queries):
        pages = HL_RESULT_PAGES if qn == 0 else [["E2"]]
        for n, keys in enumerate(pages, start=1):
            nxt = f"/harbourline/search?q={q.replace(' ', '+')}&page={n + 1}" if n < len(pages) else None
            write(f"harbourline/_results/q{qn}-p{n}.html", results_html(keys, nxt))
            key = f"/harbourline/search?q={q}" + (f"&page={n}" if n > 1 else "")
            headers.append(f'[{json.dumps(key, ensure_ascii=False)}]\nfile = "/harbourline/_results/q{qn}-p{n}.html"\n')
    zh_queries = [q for _, q in topic.queries_for(["zh-Hant"])]
    for qn, q in enumerate(zh_queries):
        for n, keys in enumerate(GW_RESULT_PAGES if qn == 0 else GW_SECOND_QUERY_PAGES, start=1):
            write(f"gangwan/_results/q{qn}-p{n}.html", results_html(keys, None))
            key = f"/gangwan/search.html?kw={q}&p={n}"
            headers.append(f'[{json.dumps(key, ensure_ascii=False)}]\nfile = "/gangwan/_results/q{qn}-p{n}.html"\n')
    write("_headers.toml", "\n".join(headers))


# --- the crawls ----------------------------------------------------------------------------------------------
@dataclass
class Run:
    base_url: str
    db: Path
    out: Path
    procs: dict[str, subprocess.CompletedProcess[str]] = field(default_factory=dict)
    requests: dict[str, list[str]] = field(default_factory=dict)  # step -> request paths (with queries)

    def articles(self) -> list[dict[str, Any]]:
        return query(self.db, "SELECT * FROM articles ORDER BY canonical_url")

    def key_of(self, url: str) -> str:
        path = urlsplit(url).path
        return next(k for k, p in PAGES.items() if p.path == path)

    def report(self, step: str) -> dict[str, Any]:
        runs = sorted((self.out / step / "runs").glob("*.json"))
        assert len(runs) == 1
        return json.loads(runs[0].read_text(encoding="utf-8"))


def _crawl(outlets: Path, run: Run, step: str, *extra: str | Path) -> list[str | Path]:
    return ["crawl", "--outlets", outlets, "--db", run.db, "--out", run.out / step, "--since", SINCE,
            "--allow-private", "--topics", TOPICS, *extra]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Store A: a topic crawl, the same again, then a crawl without topic, then grouping and exports.
    Store B: a crawl without topic first, then `run --topic` (already stored articles get tagged)."""
    root = tmp_path_factory.mktemp("topics")
    topic, _ = find_topic(TOPICS, TOPIC)
    build_site(root / "site", topic)
    with ExitStack() as stack:
        sites = {name: stack.enter_context(FixtureSite(root / "site")) for name in ("a", "b")}
        result: dict[str, Run] = {}
        outlets: dict[str, Path] = {}
        for name, site in sites.items():
            (root / name).mkdir()
            result[name] = Run(site.base_url, root / name / "store.sqlite3", root / name / "out")
            outlets[name] = root / name / "outlets.toml"
            outlets[name].write_text(site.render("outlets.toml"), encoding="utf-8")

        def step(name: str, label: str, *args: str | Path) -> None:
            before = len(sites[name].requests)
            result[name].procs[label] = run_cli(*args)
            result[name].requests[label] = list(sites[name].requests[before:])

        def background(name: str, label: str, *args: str | Path) -> Callable[[], None]:
            before = len(sites[name].requests)
            proc = start_cli(*args)

            def finish() -> None:
                result[name].procs[label] = finish_cli(proc)
                result[name].requests[label] = list(sites[name].requests[before:])
            return finish

        a, b = result["a"], result["b"]
        # Store B's crawls run while store A's do (each store has its own server).
        finish_b = background("b", "plain", *_crawl(outlets["b"], b, "plain"))
        step("a", "topic", *_crawl(outlets["a"], a, "topic", "--topic", TOPIC))
        finish_b()
        finish_b = background("b", "run", "run", *_crawl(outlets["b"], b, "run", "--topic", TOPIC)[1:])
        step("a", "topic-again", *_crawl(outlets["a"], a, "topic-again", "--topic", TOPIC))
        finish_b()
        a.procs["topic-articles"] = run_cli("export", "--db", a.db, "--format", "articles", "--topic", TOPIC,
                                            "--topics", TOPICS, "--out", a.out / "topic-export")
        step("a", "plain", *_crawl(outlets["a"], a, "plain"))
        for label, args in (
            ("group-all", ["group", "--db", a.db, "--out", a.out / "group-all"]),
            ("export-topic", ["export", "--db", a.db, "--format", "jsonl", "--topic", TOPIC, "--topics", TOPICS,
                              "--out", a.out / "export-topic"]),
            ("group-topic", ["group", "--db", a.db, "--out", a.out / "group-topic", "--topic", TOPIC,
                             "--topics", TOPICS]),
        ):
            a.procs[label] = run_cli(*args)
    for run in result.values():
        for label, proc in run.procs.items():
            assert proc.returncode == 0, f"{label}: {proc.stderr}"
    return result


def _article_paths(requests: list[str]) -> set[str]:
    return {r.split("?", 1)[0] for r in requests if "/news/" in r}


def _key_paths(keys: set[str]) -> set[str]:
    return {PAGES[k].path for k in keys}


# --- precision and recall ------------------------------------------------------------------------------------
def test_topic_crawl_stores_every_reachable_on_topic_article_and_nothing_else(runs: dict[str, Run]) -> None:
    a = runs["a"]
    procs_topic = a.procs["topic"]
    assert procs_topic.returncode == 0
    # After the first crawl (the export taken right after the topic crawls): only on-topic articles.
    rows = read_jsonl(a.out / "topic-export" / "articles.jsonl")
    stored = {a.key_of(r["url"]) for r in rows}
    true_positives = stored & ON_TOPIC
    precision = len(true_positives) / len(stored)
    recall = len(true_positives) / len(ON_TOPIC)
    assert (precision, recall) == (1.0, 1.0), (sorted(stored - ON_TOPIC), sorted(ON_TOPIC - stored))
    assert len(ON_TOPIC) == 9 and {p.lang for k, p in PAGES.items() if k in ON_TOPIC} == {"en", "zh-Hant", "zh-Hans"}


def test_stored_topic_articles_carry_the_topic_and_what_matched_where(runs: dict[str, Run]) -> None:
    rows = {runs["a"].key_of(r["url"]): r for r in read_jsonl(runs["a"].out / "topic-export" / "articles.jsonl")}
    for key, row in rows.items():
        assert row["topics"] == [TOPIC]
        terms = row["topic_matches"][TOPIC]["terms"]
        assert set(terms) <= {"title", "text"} and terms, key
    # Where: E1's title names both; E2's title neither (its text does); Simplified text matched by
    # Traditional terms of the topic file.
    assert set(rows["E1"]["topic_matches"][TOPIC]["terms"]["title"]) >= {"Hong Kong", "CCTV"}
    assert "title" not in rows["E2"]["topic_matches"][TOPIC]["terms"]
    assert "facial recognition" in rows["E2"]["topic_matches"][TOPIC]["terms"]["text"]
    assert "閉路電視" in rows["S1"]["topic_matches"][TOPIC]["terms"]["text"]
    assert "人臉識別" in rows["S2"]["topic_matches"][TOPIC]["terms"]["text"]
    assert "監控" in rows["T3"]["topic_matches"][TOPIC]["terms"]["text"]


def test_prefetch_evidence_ranks_but_only_an_exclusion_skips(runs: dict[str, Run]) -> None:
    fetched = _article_paths(runs["a"].requests["topic"])
    # Off-topic look-alikes are fetched (their feed titles do not prove them off topic) and then rejected...
    assert _key_paths(OFF_TOPIC - PREFETCH_SKIPPED) <= fetched
    # ...but a candidate whose feed title carries an exclusion term is never downloaded.
    assert not _key_paths(PREFETCH_SKIPPED) & fetched
    # An on-topic article whose feed title names neither Hong Kong nor cameras is still fetched and kept.
    assert PAGES["E2"].path in fetched and PAGES["S1"].path in fetched


def test_dated_child_sitemaps_outside_since_are_not_requested(runs: dict[str, Run]) -> None:
    requested = {r.split("?", 1)[0] for r in runs["a"].requests["topic"]}
    assert not OLD_SITEMAPS & requested
    assert {"/gangwan/sitemap-2024-05.xml", "/gangwan/sitemap-2025-03.xml", "/gangwan/news-sitemap.xml"} <= requested
    assert not _key_paths({"T4", "T5", "T6"}) & requested


def _search_requests(requests: list[str], path: str) -> list[dict[str, str]]:
    out = []
    for r in requests:
        parts = urlsplit(r)
        if unquote(parts.path) == path:
            out.append(dict(parse_qsl(parts.query)))
    return out


def test_search_pages_followed_by_next_link_up_to_the_cap(runs: dict[str, Run]) -> None:
    topic, _ = find_topic(TOPICS, TOPIC)
    first_query = topic.queries_for(["en"])[0][1]
    searches = _search_requests(runs["a"].requests["topic"], "/harbourline/search")
    pages = sorted(int(s.get("page", "1")) for s in searches if s["q"] == first_query)
    assert pages == list(range(1, topic.search_pages + 1)) == [1, 2, 3, 4, 5]
    # Every English query was searched once at least; E5 sits on page 6 and is never fetched.
    assert {s["q"] for s in searches} == {q for _, q in topic.queries_for(["en"])}
    assert PAGES["E5"].path not in _article_paths(runs["a"].requests["topic"])


def test_search_pages_with_page_placeholder_stop_at_an_empty_page(runs: dict[str, Run]) -> None:
    topic, _ = find_topic(TOPICS, TOPIC)
    queries = [q for _, q in topic.queries_for(["zh-Hant"])]
    searches = _search_requests(runs["a"].requests["topic"], "/gangwan/search.html")
    by_query = {q: sorted(int(s["p"]) for s in searches if s["kw"] == q) for q in queries}
    assert by_query == {queries[0]: [1, 2, 3], queries[1]: [1, 2]}
    # The Simplified outlet has no search_url: nothing searched there.
    assert not [r for r in runs["a"].requests["topic"] if r.startswith("/xincheng/search")]


def test_report_counts_candidates_fetched_matched_and_rejected(runs: dict[str, Run]) -> None:
    report = runs["a"].report("topic")
    assert report["topic"] == TOPIC
    counts = report["outlets"]
    expected = {
        # candidates (distinct URLs), fetched, matched, rejected, skipped before fetching
        "harbourline": (9, 8, 4, 4, 1),
        "gangwan": (6, 6, 3, 3, 0),
        "xincheng": (5, 5, 2, 3, 0),
    }
    for outlet, (candidates, fetched, matched, rejected, skipped) in expected.items():
        c = counts[outlet]
        got = (c.get("candidates", 0), c.get("fetched", 0), c.get("topic_matched", 0), c.get("topic_rejected", 0),
               c.get("topic_skipped", 0))
        assert got == (candidates, fetched, matched, rejected, skipped), (outlet, c)
        assert c.get("stored", 0) == matched
    assert counts["gangwan"]["skipped_sitemaps_out_of_range"] == 3
    assert counts["harbourline"]["search_pages"] == 5 + 2 and counts["gangwan"]["search_pages"] == 3 + 2
    out = runs["a"].procs["topic"].stdout
    assert "matched" in out and "rejected" in out and "candidates" in out
    assert f"topic {TOPIC}: 20 candidates, 1 skipped before fetching, 19 fetched, 9 matched, 10 rejected" in out


def test_rerun_fetches_no_article_again(runs: dict[str, Run]) -> None:
    again = runs["a"].requests["topic-again"]
    assert _article_paths(again) == set()
    # The sitemap index answers 304 now: its children's stored dates still keep the old ones unread.
    assert not OLD_SITEMAPS & {r.split("?", 1)[0] for r in again}
    counts = runs["a"].report("topic-again")["outlets"]
    assert sum(c.get("fetched", 0) for c in counts.values()) == 0
    # Rejected pages are remembered for this topic; the exclusion-titled one is skipped again.
    assert sum(c.get("topic_skipped", 0) for c in counts.values()) == len(OFF_TOPIC)


def test_a_crawl_without_topic_still_fetches_pages_the_topic_rejected(runs: dict[str, Run]) -> None:
    a = runs["a"]
    plain = _article_paths(a.requests["plain"])
    # Off-topic pages the plain crawl discovers (feeds, sitemaps, section pages; it does not search).
    assert plain == _key_paths({"O1", "O2", "O3", "O4", "OT1", "OT2", "OS1", "OS2", "OS3"})
    stored = {a.key_of(r["url"]): json.loads(r["topics"]) for r in a.articles()}
    assert {k for k, t in stored.items() if t == [TOPIC]} == ON_TOPIC
    assert {k for k, t in stored.items() if t == []} == {"O1", "O2", "O3", "O4", "OT1", "OT2", "OS1", "OS2", "OS3"}


# --- grouping and export by topic -----------------------------------------------------------------------------
def test_group_topic_groups_only_topic_articles(runs: dict[str, Run]) -> None:
    a = runs["a"]
    events = read_jsonl(a.out / "group-topic" / "events.jsonl")
    ids = {x["id"] for e in events for x in e["articles"]}
    by_id = {r["id"]: a.key_of(r["url"]) for r in a.articles()}
    assert {by_id[i] for i in ids} == ON_TOPIC
    assert all(e["topics"] == [TOPIC] for e in events)
    assert f"of topic {TOPIC}" in a.procs["group-topic"].stdout


def test_export_topic_writes_only_on_topic_events(runs: dict[str, Run]) -> None:
    a = runs["a"]
    all_events = read_jsonl(a.out / "group-all" / "events.jsonl")
    exported = read_jsonl(a.out / "export-topic" / "events.jsonl")
    by_id = {r["id"]: a.key_of(r["url"]) for r in a.articles()}
    assert exported and len(exported) < len(all_events)
    for e in exported:
        assert TOPIC in e["topics"]
        assert {by_id[x["id"]] for x in e["articles"]} & ON_TOPIC
    # Every on-topic article is in some exported event, and no event of only off-topic articles is.
    assert {by_id[x["id"]] for e in exported for x in e["articles"]} >= ON_TOPIC
    left_out = [e for e in all_events if e["event_id"] not in {x["event_id"] for x in exported}]
    assert left_out and all(not ({by_id[x["id"]] for x in e["articles"]} & ON_TOPIC) for e in left_out)


# --- a topic run on a store that already holds the articles ---------------------------------------------------
def test_run_topic_tags_already_stored_articles_and_fetches_search_results(runs: dict[str, Run]) -> None:
    b = runs["b"]
    stored = {b.key_of(r["url"]): json.loads(r["topics"]) for r in b.articles()}
    assert {k for k, t in stored.items() if t == [TOPIC]} == ON_TOPIC
    counts = b.report("run")["outlets"]
    plain_found = {"E1", "E2", "T1", "T2", "S1", "S2"}  # on-topic and stored by the plain crawl before
    assert sum(c.get("topic_tagged", 0) for c in counts.values()) == len(plain_found)
    # Only what the plain crawl could not find (search results) is fetched by the topic run.
    assert _article_paths(b.requests["run"]) == _key_paths({"E3", "E4", "O5", "T3", "OT3"})
    events = read_jsonl(b.out / "run" / "events.jsonl")
    by_id = {r["id"]: b.key_of(r["url"]) for r in b.articles()}
    assert {by_id[x["id"]] for e in events for x in e["articles"]} == ON_TOPIC
    exported = {b.key_of(r["url"]) for r in read_jsonl(b.out / "run" / "articles.jsonl")}
    assert exported == ON_TOPIC
