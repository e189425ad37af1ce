"""Where the demo city's lots go: Wuxi's built-up areas, its water, and a few real places.

Plain data and pure geometry, no Django. Coordinates are WGS-84 ``(lat, lon)``, read off public
maps to a few hundred metres: close enough for a demo map, not a survey. Each built-up area is a
circle (centre, radius) kept clear of Lake Tai (太湖) and Li Lake (蠡湖); the planner still tests
every point against the water polygons below, so a generous radius can never drop a lot in a lake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = [
    "CLUSTERS",
    "LAKE_TAI",
    "LANDMARKS",
    "LI_LAKE",
    "REGIONS",
    "WATER",
    "Cluster",
    "Landmark",
    "RegionMeta",
    "in_polygon",
    "in_water",
]


@dataclass(frozen=True, slots=True)
class RegionMeta:
    code: str  # GB/T 2260 (or the 经开区's local code), as apps.regions.services.WUXI_REGIONS
    prefix: str  # lot code prefix: LX-0001, on-street LX-R-0001
    address: str  # how an address starts
    username: str  # the region's demo staff login
    weight: float  # share of the city's lots: where people park, the old centre densest


# Weights: 梁溪 is the dense old centre; 江阴 and 宜兴 are separate towns with their own centres.
REGIONS: Final[dict[str, RegionMeta]] = {
    meta.code: meta
    for meta in (
        RegionMeta("320213", "LX", "无锡市梁溪区", "liangxi", 30),
        RegionMeta("320211", "BH", "无锡市滨湖区", "binhu", 13),
        RegionMeta("320214", "XW", "无锡市新吴区", "xinwu", 15),
        RegionMeta("320206", "HS", "无锡市惠山区", "huishan", 10),
        RegionMeta("320205", "XS", "无锡市锡山区", "xishan", 10),
        RegionMeta("3202JK", "JK", "无锡市经济开发区", "jingkai", 6),
        RegionMeta("320281", "JY", "江阴市", "jiangyin", 9),
        RegionMeta("320282", "YX", "宜兴市", "yixing", 7),
    )
}


@dataclass(frozen=True, slots=True)
class Cluster:
    """A built-up area: lots fall inside the circle, denser towards the centre."""

    key: str
    region: str
    lat: float
    lon: float
    radius_km: float
    weight: float  # share of its region's lots
    zone: str  # on-street zone class here: core / center / outer (核心 / 中心 / 外围片区)
    areas: tuple[str, ...]  # neighbourhood names used in lot names
    streets: tuple[tuple[str, str], ...]  # (street, road class arterial|branch)
    stations: tuple[str, ...] = ()  # metro stations nearby: park-and-ride lots are named after them


# Road classes: 干道 (arterial) for the city's main through roads, 支路 (branch) for the rest.
A, B = "arterial", "branch"

CLUSTERS: Final[tuple[Cluster, ...]] = (
    # 梁溪: the old city inside the moat, the station, the canal quarter and the east side.
    Cluster("chongansi", "320213", 31.5765, 120.3000, 1.0, 10, "core",
            ("崇安寺", "三阳广场", "胜利门", "小娄巷", "东林书院", "崇宁路"),
            (("人民中路", A), ("中山路", A), ("解放北路", A), ("解放西路", A), ("学前街", B), ("崇宁路", B),
             ("新生路", B), ("县前东街", B), ("健康路", B), ("后西溪", B), ("北大街", B)),
            stations=("三阳广场", "胜利门")),
    Cluster("nanchansi", "320213", 31.5610, 120.3095, 0.9, 6, "core",
            ("南禅寺", "清名桥", "南长街", "跨塘桥"),
            (("清扬路", A), ("解放南路", A), ("解放东路", A), ("南长街", B), ("大窑路", B), ("朝阳路", B)),
            stations=("南禅寺", "清名桥")),
    Cluster("station", "320213", 31.5900, 120.3030, 1.0, 5, "center",
            ("无锡火车站", "北大街", "吴桥", "工运桥"),
            (("兴源北路", A), ("通江大道", A), ("江海西路", A), ("工运路", B), ("北塘大街", B)),
            stations=("无锡火车站", "北大街")),
    Cluster("guangyi", "320213", 31.5700, 120.3300, 1.3, 4, "center",
            ("广益", "金匮", "广瑞", "上马墩"),
            (("广瑞路", A), ("锡沪西路", A), ("金城东路", A), ("广益路", B), ("广南路", B)), stations=("上马墩",)),
    Cluster("yangming", "320213", 31.5520, 120.3200, 1.0, 3, "center",
            ("扬名", "金星", "塘南", "清扬"),
            (("太湖大道", A), ("清扬路", A), ("金城东路", A), ("扬名路", B), ("金星路", B), ("塘南路", B)),
            stations=("扬名", "人民医院")),
    # 滨湖: north of Li Lake, 太湖新城 between Li Lake and 贡湖 bay, and 荣巷 under 梅园.
    Cluster("helekou", "320211", 31.5625, 120.2720, 1.2, 5, "center",
            ("河埒口", "蠡园", "青祁", "大通"),
            (("梁溪路", A), ("湖滨路", A), ("青祁路", A), ("惠河路", B), ("建筑路", B), ("蠡溪路", B)),
            stations=("河埒口",)),
    Cluster("wanda", "320211", 31.5520, 120.2960, 0.7, 3, "center",
            ("蠡湖北岸", "梁清", "青祁"),
            (("梁清路", A), ("青祁路", A), ("蠡湖大道", A), ("蠡桥路", B))),
    Cluster("taihuxincheng", "320211", 31.4920, 120.3120, 1.6, 4, "center",
            ("太湖新城", "市民中心", "金匮公园", "贡湖湾"),
            (("观山路", A), ("金石路", A), ("立信大道", A), ("震泽路", A), ("清舒道", B), ("和风路", B)),
            stations=("市民中心",)),
    Cluster("rongxiang", "320211", 31.5680, 120.2420, 0.8, 1.5, "outer",
            ("荣巷", "梅园"),
            (("建筑西路", A), ("钱胡路", A), ("荣巷街", B)), stations=("梅园开原寺", "荣巷")),
    # 新吴: the new district's centre, the science park, 梅村 and the airport town 硕放.
    Cluster("wangzhuang", "320214", 31.5560, 120.3560, 1.5, 6, "center",
            ("旺庄", "新区中心", "长江路", "春潮"),
            (("长江路", A), ("长江北路", A), ("锡士路", A), ("旺庄路", A), ("新华路", A), ("珠江路", B),
             ("汉江路", B))),
    Cluster("taikeyuan", "320214", 31.4990, 120.3850, 1.0, 3, "outer",
            ("太科园", "软件园", "清源"),
            (("菱湖大道", A), ("清源路", B), ("净慧东道", B))),
    Cluster("meicun", "320214", 31.5560, 120.4200, 1.0, 3, "outer",
            ("梅村", "泰伯"),
            (("锡兴路", A), ("梅育路", A), ("梅村大街", B))),
    Cluster("shuofang", "320214", 31.5020, 120.4430, 1.0, 2, "outer",
            ("硕放", "南星"),
            (("机场路", A), ("薛典路", A), ("硕放中路", B))),
    # 惠山: 堰桥 up the 锡澄 road, the district centre, 钱桥 and 洛社.
    Cluster("yanqiao", "320206", 31.6400, 120.2750, 1.2, 4, "outer",
            ("堰桥", "天一", "西漳"),
            (("锡澄路", A), ("堰新路", A), ("惠山大道", A), ("堰桥街", B)), stations=("堰桥", "天一", "西漳")),
    Cluster("huishanxincheng", "320206", 31.6150, 120.2480, 1.0, 3, "outer",
            ("惠山新城", "长安", "洋溪"),
            (("惠山大道", A), ("政和大道", A), ("吴韵路", B), ("文惠路", B))),
    Cluster("qianqiao", "320206", 31.5970, 120.2300, 0.9, 2, "outer",
            ("钱桥", "盛岸"),
            (("盛岸西路", A), ("钱皋路", A), ("钱桥街", B))),
    Cluster("luoshe", "320206", 31.6560, 120.1520, 1.0, 2, "outer",
            ("洛社", "石塘湾"),
            (("洛南大道", A), ("洛社大街", B))),
    # 锡山: 东亭 on the 锡沪 road, 安镇 by the high-speed station.
    Cluster("dongting", "320205", 31.5880, 120.3700, 1.5, 6, "center",
            ("东亭", "锡山", "春华", "友谊"),
            (("锡沪中路", A), ("东亭北路", A), ("东亭中路", A), ("团结中路", A), ("友谊北路", B),
             ("春笋路", B)), stations=("东亭",)),
    Cluster("anzhen", "320205", 31.6050, 120.4350, 1.1, 3, "outer",
            ("安镇", "无锡东站", "厚桥"),
            (("锡东大道", A), ("安泰路", B), ("大成路", B)), stations=("无锡东站",)),
    # 经开区: 太湖新城's east side, 尚贤湖 and the financial quarter.
    Cluster("jingkai", "3202JK", 31.5130, 120.3360, 1.3, 1, "center",
            ("尚贤湖", "金融街", "华庄", "具区"),
            (("贡湖大道", A), ("高浪东路", A), ("具区路", A), ("华清大道", A), ("金融一街", B),
             ("尚贤道", B))),
    # 江阴: the old town south of the Yangtze, kept clear of the river.
    Cluster("jiangyin", "320281", 31.9020, 120.2800, 2.2, 1, "outer",
            ("澄江", "虹桥", "君山", "黄山湖"),
            (("人民东路", A), ("虹桥北路", A), ("澄江中路", A), ("寿山路", A), ("君山路", A), ("延陵路", B),
             ("朝阳路", B))),
    # 宜兴: 宜城 between the 团氿 and 东氿 lakes (kept narrow for them), and the pottery town 丁蜀.
    Cluster("yicheng", "320282", 31.3620, 119.8220, 1.5, 2, "outer",
            ("宜城", "氿滨", "荆溪"),
            (("人民中路", A), ("解放东路", A), ("阳羡东路", A), ("荆溪北路", A), ("通贞观路", B),
             ("东山路", B))),
    Cluster("dingshu", "320282", 31.2900, 119.8650, 1.2, 1, "outer",
            ("丁蜀", "蜀山"),
            (("陶都路", A), ("蜀山路", B), ("丁山路", B))),
)


@dataclass(frozen=True, slots=True)
class Landmark:
    """A real place with a named lot, placed by hand rather than at random."""

    name: str  # the lot's name
    category: str  # ParkingLot.Category value
    cluster: str  # Cluster.key
    lat: float
    lon: float
    street: str
    number: int
    total_berths: int


# Order within a cluster is priority when a small --lots leaves room for only some: hospitals first.
LANDMARKS: Final[tuple[Landmark, ...]] = (
    Landmark("无锡市第二人民医院停车场", "hospital", "chongansi", 31.5700, 120.2985, "中山路", 68, 600),
    Landmark("无锡市人民医院停车场", "hospital", "nanchansi", 31.5540, 120.3050, "清扬路", 299, 1800),
    Landmark("无锡市中医医院停车场", "hospital", "yangming", 31.5540, 120.2925, "中南西路", 8, 500),
    Landmark("江南大学附属医院停车场", "hospital", "helekou", 31.5580, 120.2640, "惠河路", 200, 1200),
    Landmark("无锡市锡山人民医院停车场", "hospital", "dongting", 31.5885, 120.3640, "锡沪中路", 168, 800),
    Landmark("无锡市惠山区人民医院停车场", "hospital", "yanqiao", 31.6400, 120.2700, "堰新路", 20, 600),
    Landmark("江阴市人民医院停车场", "hospital", "jiangyin", 31.9045, 120.2735, "寿山路", 163, 1000),
    Landmark("宜兴市人民医院停车场", "hospital", "yicheng", 31.3680, 119.8160, "通贞观路", 75, 900),
    Landmark("恒隆广场停车场", "mall", "chongansi", 31.5745, 120.2985, "人民中路", 139, 1200),
    Landmark("无锡站南广场停车场", "transport", "station", 31.5885, 120.3050, "车站路", 1, 1500),
    Landmark("惠山古镇停车场", "scenic", "station", 31.5815, 120.2690, "惠山直街", 1, 600),
    Landmark("南长街停车场", "scenic", "nanchansi", 31.5620, 120.3130, "南长街", 298, 400),
    Landmark("滨湖万达广场停车场", "mall", "wanda", 31.5500, 120.2960, "梁清路", 88, 1800),
    Landmark("蠡园停车场", "scenic", "helekou", 31.5485, 120.2640, "环湖路", 1, 300),
    Landmark("梅园停车场", "scenic", "rongxiang", 31.5665, 120.2335, "梁溪路", 1, 500),
    Landmark("无锡市民中心停车场", "office", "taihuxincheng", 31.4915, 120.3110, "观山路", 199, 1200),
    Landmark("海岸城购物中心停车场", "mall", "taihuxincheng", 31.4950, 120.3055, "观山路", 288, 1500),
    Landmark("荟聚购物中心停车场", "mall", "dongting", 31.5830, 120.3850, "锡沪中路", 1, 3500),
    Landmark("无锡东站停车场", "transport", "anzhen", 31.5930, 120.4310, "锡东大道", 1, 2000),
    Landmark("苏南硕放国际机场停车场", "transport", "shuofang", 31.4960, 120.4330, "机场路", 1, 3000),
    Landmark("无锡软件园停车场", "office", "taikeyuan", 31.4930, 120.3870, "菱湖大道", 111, 900),
)


# Lake Tai: a coarse outline of the whole lake, finest along the Wuxi shore (梅梁湖, 鼋头渚, 贡湖).
# It errs towards the water; built-up clusters sit at least a kilometre inland from it.
LAKE_TAI: Final[tuple[tuple[float, float], ...]] = (
    (31.520, 120.150), (31.548, 120.185), (31.550, 120.205), (31.535, 120.222), (31.515, 120.230),
    (31.495, 120.242), (31.475, 120.262), (31.466, 120.290), (31.462, 120.330), (31.458, 120.370),
    (31.445, 120.410), (31.420, 120.435), (31.370, 120.440), (31.300, 120.420), (31.230, 120.430),
    (31.150, 120.470), (31.060, 120.520), (30.990, 120.580), (30.940, 120.480), (30.930, 120.300),
    (30.950, 120.150), (31.000, 120.000), (31.100, 119.930), (31.230, 119.910), (31.330, 119.935),
    (31.420, 119.975), (31.470, 120.010), (31.480, 120.060), (31.460, 120.100), (31.490, 120.130),
)

# Li Lake (蠡湖), the inner lake between the old city and 太湖新城.
LI_LAKE: Final[tuple[tuple[float, float], ...]] = (
    (31.527, 120.236), (31.536, 120.245), (31.541, 120.258), (31.543, 120.272), (31.540, 120.288),
    (31.536, 120.302), (31.531, 120.314), (31.524, 120.318), (31.519, 120.305), (31.520, 120.288),
    (31.518, 120.268), (31.519, 120.250),
)

WATER: Final = {"太湖": LAKE_TAI, "蠡湖": LI_LAKE}


def in_polygon(lat: float, lon: float, polygon: tuple[tuple[float, float], ...]) -> bool:
    """Even-odd ray casting; over a few tens of kilometres lat/lon may be treated as planar."""
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        lat_i, lon_i = polygon[i]
        lat_j, lon_j = polygon[j]
        if (lat_i > lat) != (lat_j > lat):
            crossing = lon_i + (lat - lat_i) * (lon_j - lon_i) / (lat_j - lat_i)
            if lon < crossing:
                inside = not inside
        j = i
    return inside


def in_water(lat: float, lon: float) -> bool:
    return any(in_polygon(lat, lon, polygon) for polygon in WATER.values())
