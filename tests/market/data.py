"""A small catalog and sales history written the way StockX exports them, for the market tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.monitors.sources.resale import PriceObservation

PRODUCTS = """,item,brand,retail,release,lowestAsk
0,Jordan 4 Retro SB Pine Green,Jordan,225,2023-03-21,325
1,Jordan 4 Retro Military Black,Jordan,190,2022-05-21,250
2,Jordan 4 Retro Military Black (GS),Jordan,150,2022-05-21,180
3,Jordan 4 Retro Military Black (PS),Jordan,90,2022-05-21,100
4,Nike Dunk Low Retro White Black Panda (2021),Nike,110,2021-03-10,120
5,Nike Dunk Low Retro White Black Panda (2021) (Women's),Nike,110,2021-03-10,115
6,Nike Dunk Low Retro White Black Panda (2021),Nike,110,,121
7,Nike Dunk Low SP Kentucky (2020/2022),Nike,100,2022-01-05,180
8,Jordan 1 Retro Low OG SP Travis Scott,Jordan,150,2019-07-19,1200
9,Nike Air Force 1 Mid Off-White White,Nike,180,2021-12-08,400
10,adidas Yeezy Boost 350 V2 Zebra,adidas,220,2017-02-25,300
11,Nike Dunk Low Grey Fog,Nike,100,2021-08-20,110
12,Nike Dunk Low Next Nature White Black Panda (Women's),Nike,100,2022-09-01,100
"""

SALES = """OrderDate,Brand,SneakerName,SalePrice,RetailPrice,ReleaseDate,ShoeSize,BuyerRegion
2017-09-01,Yeezy,Adidas-Yeezy-Boost-350-V2-Zebra,900,220,2017-02-25,11,California
2017-09-01,Yeezy,Adidas-Yeezy-Boost-350-V2-Beluga-2pt0,800,220,2017-11-25,10,Oregon
2017-09-02,Off-White,Air-Jordan-1-Retro-High-Off-White-University-Blue,1200,190,2018-06-23,9,New York
"""

ZEBRA = "adidas Yeezy Boost 350 V2 Zebra"
END = datetime(2018, 10, 30, 12, tzinfo=UTC)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def zebra_sales(days: int = 60) -> list[PriceObservation]:
    """Two sales a day for ``days`` days in sizes 9, 10 and 11, prices drifting down from 400, named
    as a StockX sales import stores them."""
    sales = []
    for day in range(days):
        for n, size in enumerate(("9", "10", "11")[: 2 if day % 2 else 3]):
            sales.append(
                PriceObservation(
                    observed_at=END - timedelta(days=day, hours=n),
                    source="stockx",
                    kind="sale",
                    product="Adidas Yeezy Boost 350 V2 Zebra",
                    price=300 + day + n * 5,
                    external_id=f"zebra-{day}-{n}",
                    size=size,
                )
            )
    return sales
