"""The closed enumerations of the national registry form (全国扶贫开发信息系统).

Codes follow the national form so data can be exchanged with it (DOMAIN.md §9). Labels
are English msgids translated to zh-Hans in the locale catalogue; the Chinese term is in
each label's comment for the reader.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class HouseholdStatus(models.TextChoices):
    """The life cycle of a household (DOMAIN.md §2)."""

    SURVEYED = "surveyed", _("Surveyed")  # 已调查
    PROPOSED = "proposed", _("Proposed")  # 拟识别
    IN_NOTICE = "in_notice", _("In public notice")  # 公示中
    REGISTERED = "registered", _("Registered poor")  # 建档立卡贫困户
    EXIT_PROPOSED = "exit_proposed", _("Exit proposed")  # 拟脱贫
    EXITED = "exited", _("Exited, consolidating")  # 已脱贫（巩固期）
    CLOSED = "closed", _("Closed")  # 销号
    EXCLUDED = "excluded", _("Excluded")  # 已剔除
    RETURNED = "returned", _("Returned to poverty")  # 返贫


class IdentificationStandard(models.TextChoices):
    NATIONAL = "national", _("National standard")  # 国家标准
    PROVINCIAL = "provincial", _("Provincial standard")  # 省定标准
    MUNICIPAL = "municipal", _("Municipal standard")  # 市定标准


class PovertyAttribute(models.TextChoices):
    GENERAL = "general", _("General poor household")  # 一般贫困户
    DIBAO = "dibao", _("Subsistence-allowance poor household")  # 低保贫困户
    TEKUN = "tekun", _("Extreme-poverty support household")  # 特困供养（五保）贫困户


class PovertyCause(models.TextChoices):
    """致贫原因, numbered as on the national form."""

    ILLNESS = "1", _("Illness")  # 因病
    DISABILITY = "2", _("Disability")  # 因残
    SCHOOLING = "3", _("Schooling costs")  # 因学
    DISASTER = "4", _("Disaster")  # 因灾
    LACK_OF_LAND = "5", _("Lack of land")  # 缺土地
    LACK_OF_WATER = "6", _("Lack of water")  # 缺水
    LACK_OF_SKILLS = "7", _("Lack of skills")  # 缺技术
    LACK_OF_LABOUR = "8", _("Lack of labour")  # 缺劳力
    LACK_OF_FUNDS = "9", _("Lack of funds")  # 缺资金
    POOR_TRANSPORT = "10", _("Poor transport")  # 交通条件落后
    LACK_OF_DRIVE = "11", _("Lack of own drive")  # 自身发展动力不足
    MARRIAGE = "12", _("Marriage")  # 因婚
    BEREAVEMENT = "13", _("Bereavement")  # 因丧


class RelocationType(models.TextChoices):
    WHOLE_VILLAGE = "whole_village", _("Whole village")  # 整村
    WHOLE_NATURAL_VILLAGE = "whole_natural_village", _("Whole natural village")  # 自然村整体
    INDIVIDUAL = "individual", _("Individual household")  # 个别


class RelocationMode(models.TextChoices):
    CONCENTRATED = "concentrated", _("Concentrated")  # 集中安置
    DISPERSED = "dispersed", _("Dispersed")  # 分散安置


class RelocationPlace(models.TextChoices):
    COUNTY_TOWN = "county_town", _("County town")  # 县城
    TOWNSHIP = "township", _("Township seat")  # 乡镇
    OUTSIDE_COUNTY = "outside_county", _("Outside the county")  # 县外
    OUTSIDE_VILLAGE = "outside_village", _("Outside the village")  # 村外
    INSIDE_VILLAGE = "inside_village", _("Inside the village")  # 村内


class RoadSurface(models.TextChoices):
    EARTH = "earth", _("Earth")  # 泥土
    GRAVEL = "gravel", _("Gravel")  # 砂石
    CONCRETE = "concrete", _("Concrete")  # 水泥
    ASPHALT = "asphalt", _("Asphalt")  # 沥青


class HousingStructure(models.TextChoices):
    REINFORCED_CONCRETE = "reinforced_concrete", _("Reinforced concrete")  # 钢混
    BRICK_CONCRETE = "brick_concrete", _("Brick and concrete")  # 砖混
    BRICK_WOOD = "brick_wood", _("Brick and wood")  # 砖木
    EARTH_WOOD = "earth_wood", _("Earth and wood")  # 土木
    OTHER = "other", _("Other")  # 其他


class DilapidationGrade(models.TextChoices):
    C = "C", _("Grade C")  # C级危房
    D = "D", _("Grade D")  # D级危房


class Fuel(models.TextChoices):
    FIREWOOD = "firewood", _("Firewood and straw")  # 柴草
    DUNG = "dung", _("Dried dung")  # 干畜粪
    COAL = "coal", _("Coal")  # 煤炭
    CLEAN = "clean", _("Clean energy")  # 清洁能源
    OTHER = "other", _("Other")  # 其他


class Relation(models.TextChoices):
    """与户主关系, coded as on the national form."""

    HEAD = "01", _("Head of household")  # 本人或户主
    SPOUSE = "02", _("Spouse")  # 配偶
    SON = "03", _("Son")  # 之子
    DAUGHTER = "04", _("Daughter")  # 之女
    DAUGHTER_IN_LAW = "05", _("Daughter-in-law")  # 之儿媳
    SON_IN_LAW = "06", _("Son-in-law")  # 之女婿
    GRANDSON = "07", _("Grandson")  # 之孙子
    GRANDDAUGHTER = "08", _("Granddaughter")  # 之孙女
    DAUGHTERS_SON = "09", _("Daughter's son")  # 之外孙子
    DAUGHTERS_DAUGHTER = "10", _("Daughter's daughter")  # 之外孙女
    PARENT = "11", _("Parent")  # 之父母
    PARENT_IN_LAW_WIFE = "12", _("Wife's parent")  # 之岳父母
    PARENT_IN_LAW_HUSBAND = "13", _("Husband's parent")  # 之公婆
    GRANDPARENT = "14", _("Grandparent")  # 之祖父母
    MATERNAL_GRANDPARENT = "15", _("Maternal grandparent")  # 之外祖父母
    SIBLING = "16", _("Sibling")  # 之兄弟姐妹
    OTHER = "99", _("Other")  # 其他


class Sex(models.TextChoices):
    MALE = "M", _("Male")  # 男
    FEMALE = "F", _("Female")  # 女


class Ethnicity(models.TextChoices):
    """民族, GB/T 3304 codes."""

    HAN = "01", _("Han")  # 汉族
    MONGOL = "02", _("Mongol")  # 蒙古族
    HUI = "03", _("Hui")  # 回族
    TIBETAN = "04", _("Tibetan")  # 藏族
    UYGHUR = "05", _("Uyghur")  # 维吾尔族
    MIAO = "06", _("Miao")  # 苗族
    YI = "07", _("Yi")  # 彝族
    ZHUANG = "08", _("Zhuang")  # 壮族
    BUYEI = "09", _("Buyei")  # 布依族
    KOREAN = "10", _("Korean")  # 朝鲜族
    MANCHU = "11", _("Manchu")  # 满族
    DONG = "12", _("Dong")  # 侗族
    YAO = "13", _("Yao")  # 瑶族
    BAI = "14", _("Bai")  # 白族
    TUJIA = "15", _("Tujia")  # 土家族
    HANI = "16", _("Hani")  # 哈尼族
    KAZAKH = "17", _("Kazakh")  # 哈萨克族
    DAI = "18", _("Dai")  # 傣族
    LI = "19", _("Li")  # 黎族
    LISU = "20", _("Lisu")  # 傈僳族
    VA = "21", _("Va")  # 佤族
    SHE = "22", _("She")  # 畲族
    GAOSHAN = "23", _("Gaoshan")  # 高山族
    LAHU = "24", _("Lahu")  # 拉祜族
    SHUI = "25", _("Shui")  # 水族
    DONGXIANG = "26", _("Dongxiang")  # 东乡族
    NAXI = "27", _("Naxi")  # 纳西族
    JINGPO = "28", _("Jingpo")  # 景颇族
    KIRGIZ = "29", _("Kirgiz")  # 柯尔克孜族
    TU = "30", _("Tu")  # 土族
    DAUR = "31", _("Daur")  # 达斡尔族
    MULAO = "32", _("Mulao")  # 仫佬族
    QIANG = "33", _("Qiang")  # 羌族
    BLANG = "34", _("Blang")  # 布朗族
    SALAR = "35", _("Salar")  # 撒拉族
    MAONAN = "36", _("Maonan")  # 毛南族
    GELAO = "37", _("Gelao")  # 仡佬族
    XIBE = "38", _("Xibe")  # 锡伯族
    ACHANG = "39", _("Achang")  # 阿昌族
    PUMI = "40", _("Pumi")  # 普米族
    TAJIK = "41", _("Tajik")  # 塔吉克族
    NU = "42", _("Nu")  # 怒族
    UZBEK = "43", _("Uzbek")  # 乌孜别克族
    RUSSIAN = "44", _("Russian")  # 俄罗斯族
    EVENKI = "45", _("Evenki")  # 鄂温克族
    DEANG = "46", _("De'ang")  # 德昂族
    BONAN = "47", _("Bonan")  # 保安族
    YUGUR = "48", _("Yugur")  # 裕固族
    GIN = "49", _("Gin")  # 京族
    TATAR = "50", _("Tatar")  # 塔塔尔族
    DERUNG = "51", _("Derung")  # 独龙族
    OROQEN = "52", _("Oroqen")  # 鄂伦春族
    HEZHEN = "53", _("Hezhen")  # 赫哲族
    MONBA = "54", _("Monba")  # 门巴族
    LHOBA = "55", _("Lhoba")  # 珞巴族
    JINO = "56", _("Jino")  # 基诺族
    OTHER = "97", _("Other unidentified ethnic group")  # 其他未识别民族
    FOREIGN = "98", _("Chinese citizen of foreign origin")  # 外国血统中国籍人士


class PoliticalStatus(models.TextChoices):
    PARTY_MEMBER = "party_member", _("CPC member")  # 中共党员
    PROBATIONARY = "probationary", _("CPC probationary member")  # 中共预备党员
    LEAGUE_MEMBER = "league_member", _("Youth League member")  # 共青团员
    DEMOCRATIC_PARTY = "democratic_party", _("Democratic party member")  # 民主党派
    MASSES = "masses", _("Ordinary citizen")  # 群众


class Education(models.TextChoices):
    ILLITERATE = "illiterate", _("Illiterate or semi-literate")  # 文盲或半文盲
    PRIMARY = "primary", _("Primary school")  # 小学
    JUNIOR = "junior", _("Junior secondary")  # 初中
    SENIOR = "senior", _("Senior secondary")  # 高中
    COLLEGE = "college", _("College or above")  # 大专及以上
    PRESCHOOL_AGE = "preschool_age", _("Pre-school child")  # 学龄前儿童


class Schooling(models.TextChoices):
    NOT_IN_SCHOOL = "none", _("Not in school")  # 非在校生
    PRESCHOOL = "preschool", _("Pre-school")  # 学前教育
    PRIMARY = "primary", _("Primary school")  # 小学
    GRADES_7_9 = "grades_7_9", _("Grades 7 to 9")  # 七至九年级
    SENIOR = "senior", _("Senior secondary")  # 高中
    SECONDARY_VOCATIONAL = "secondary_vocational", _("Secondary vocational")  # 中职
    HIGHER_VOCATIONAL = "higher_vocational", _("Higher vocational")  # 高职
    COLLEGE = "college", _("College or above")  # 大专及以上


#: Schooling values that make a member a student (因学 needs one).
STUDENT_SCHOOLING = frozenset(
    {
        Schooling.PRESCHOOL,
        Schooling.PRIMARY,
        Schooling.GRADES_7_9,
        Schooling.SENIOR,
        Schooling.SECONDARY_VOCATIONAL,
        Schooling.HIGHER_VOCATIONAL,
        Schooling.COLLEGE,
    }
)


class DropoutReason(models.TextChoices):
    ILLNESS = "illness", _("Illness")  # 因病
    DISABILITY = "disability", _("Disability")  # 因残
    LEARNING = "learning", _("Learning difficulty")  # 因学习困难
    POVERTY = "poverty", _("Financial hardship")  # 因经济困难
    WORK = "work", _("Left to work")  # 外出务工
    OTHER = "other", _("Other")  # 其他


class Health(models.TextChoices):
    HEALTHY = "healthy", _("Healthy")  # 健康
    CHRONIC = "chronic", _("Chronic illness")  # 长期慢性病
    SERIOUS = "serious", _("Serious illness")  # 患有大病
    DISABLED = "disabled", _("Disabled")  # 残疾


class DisabilityGrade(models.IntegerChoices):
    GRADE_1 = 1, _("Grade 1")
    GRADE_2 = 2, _("Grade 2")
    GRADE_3 = 3, _("Grade 3")
    GRADE_4 = 4, _("Grade 4")


class LabourSkill(models.TextChoices):
    ORDINARY = "ordinary", _("Ordinary labour")  # 普通劳动力
    SKILLED = "skilled", _("Skilled labour")  # 技能劳动力
    LOST = "lost", _("Lost labour capacity")  # 丧失劳动力
    NONE = "none", _("No labour capacity")  # 无劳动力


class MigrantPlace(models.TextChoices):
    IN_TOWNSHIP = "in_township", _("Within the township")  # 乡内
    IN_COUNTY = "in_county", _("Outside the township, in the county")  # 乡外县内
    IN_PROVINCE = "in_province", _("Outside the county, in the province")  # 县外省内
    OUT_OF_PROVINCE = "out_of_province", _("Outside the province")  # 省外


class LeaveReason(models.TextChoices):
    """Why a member left the household (人口自然变更)."""

    DEATH = "death", _("Death")  # 死亡
    MARRIED_OUT = "married_out", _("Married out")  # 婚出
    MOVED_OUT = "moved_out", _("Registration moved out")  # 户口迁出
    MILITARY = "military", _("Military service")  # 服兵役
    OTHER = "other", _("Other")  # 其他
