"""Name parts for the demo city's lots: how Wuxi's estates, malls and office towers are called.

Plain data. The planner combines these with a cluster's neighbourhood and street names, so a lot
reads like a real one (``清扬新村停车场``, ``东亭天街停车场``, ``人民中路道路泊位``) without
claiming to be a particular real business.
"""

from __future__ import annotations

from typing import Final

# 小区: a first part and an estate word (新村 is the classic Wuxi work-unit estate).
ESTATE_HEADS: Final = (
    "锦绣", "阳光", "金色", "春江", "紫荆", "银杏", "桃源", "清扬", "梁溪", "运河", "湖滨", "香樟", "丽景",
    "翠竹", "嘉禾", "华府", "蓝湾", "景秀", "绿洲", "馨苑", "山水", "怡和", "瑞景", "东方", "凤凰", "锡惠",
    "太湖", "长江", "新城", "花溪", "和美", "天鹅", "玉兰", "海棠", "秀水", "泰和", "广丰", "五爱", "永乐",
    "芦庄", "通扬", "塔影", "青山", "金匮", "清名", "尚锦", "悦府", "香山",
)
ESTATE_TAILS: Final = ("新村", "花园", "苑", "家园", "雅苑", "佳苑", "名邸", "公寓", "小区", "一品", "里")

# 商场.
MALL_TAILS: Final = ("购物中心", "商业广场", "天街", "生活广场", "百货", "吾悦广场", "印象城", "邻里中心")

# 办公楼.
OFFICE_HEADS: Final = ("国际", "金融", "发展", "科技", "财富", "环球", "商务", "时代", "创业", "汇金", "信息",
                       "金茂", "中心", "嘉业", "凯宾")
OFFICE_TAILS: Final = ("大厦", "广场", "中心", "科创园", "产业园", "写字楼")

# 景区 and parks.
SCENIC_TAILS: Final = ("公园", "湿地公园", "文化街区", "风景区", "体育公园", "美术馆")

# 公共停车场: public lots are named after the neighbourhood or the street.
PUBLIC_TAILS: Final = ("公共停车场", "立体停车库", "社会停车场", "便民停车场")

# 交通枢纽 away from a named station.
TRANSPORT_TAILS: Final = ("公交枢纽", "汽车客运站", "长途汽车站")

# When a name repeats, a part of the lot or a section of the street tells them apart.
OFF_STREET_PARTS: Final = ("东区", "西区", "南区", "北区", "二期", "三期", "地下", "地面")
ON_STREET_PARTS: Final = ("东段", "西段", "南段", "北段", "中段")
CHINESE_NUMERALS: Final = "一二三四五六七八九十"

# Operators' contacts (fictional).
CONTACT_NAMES: Final = ("王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "周敏", "吴刚", "徐丽",
                        "孙强", "朱琳", "胡斌", "高翔", "林霞", "何勇", "郭涛", "马红")
