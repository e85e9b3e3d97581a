"""Word lists behind the attacks: what sellers of recalled toys actually type.

Kept apart from the tactics so the lists can grow without touching logic. All tuples (never
sets) so that iteration order, and therefore every seeded attack, is the same in every process.
"""

from __future__ import annotations

from dataclasses import dataclass

# Made-up marketplace brands of the kind that front relabelled stock. Deliberately not real
# trademarks, so a "brand_replaced" positive never collides with a genuine blocklist brand.
SELLER_BRANDS: tuple[str, ...] = (
    "KIDSJOY",
    "Yuanhe",
    "HAPPYKIDZ",
    "TOYZOOM",
    "QIQIBABY",
    "Sunnymall",
    "LIUMY",
    "MOMOTOY",
    "Huaxing",
    "Kiddiwow",
    "ZHENGGUO",
    "BABYFUNN",
    "XINYUAN",
    "Tinytots",
    "JOYSEA",
    "Generic",
)

# Phrase -> replacements a seller uses for the same product type. Multi-word keys are tried
# before single words (see tactics._rewrite), keys are lower-case.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "stacking toy": ("stacking rings", "ring stacker", "stacker toy"),
    "playset": ("play set", "playset toy"),
    "play set": ("playset",),
    "teether": ("teething toy", "teething ring"),
    "teething toy": ("teether", "teething ring"),
    "building blocks": ("construction bricks", "building bricks"),
    "building set": ("construction set", "brick set"),
    "building kit": ("construction kit", "brick kit"),
    "stuffed animal": ("plush toy", "soft toy", "cuddly toy"),
    "teddy bear": ("plush bear", "cuddly bear"),
    "soft toy": ("plush", "cuddly toy"),
    "play mat": ("activity mat", "playmat", "crawling mat"),
    "puzzle mat": ("foam floor tiles", "jigsaw mat"),
    "kitchen set": ("pretend kitchen", "play kitchen"),
    "bubble machine": ("bubble maker", "bubble blower"),
    "bath toy": ("water toy", "bathtime toy"),
    "high chair": ("feeding chair", "highchair"),
    "remote control": ("rc", "radio controlled"),
    "fancy dress": ("dress up costume", "cosplay outfit"),
    "balance bike": ("push bike", "first bike"),
    "blocks": ("bricks",),
    "bricks": ("blocks",),
    "doll": ("dolly", "baby doll"),
    "dolls": ("dollies",),
    "plush": ("soft toy", "cuddly toy"),
    "rattle": ("shaker toy", "baby shaker"),
    "scooter": ("kick scooter", "push scooter"),
    "magnetic": ("magnet",),
    "magnets": ("magnetic balls", "magnet set"),
    "slime": ("putty", "squishy slime"),
    "ball": ("bouncy ball",),
    "balls": ("bouncy balls",),
    "crib": ("cot",),
    "cot": ("crib",),
    "stroller": ("pushchair", "pram"),
    "pushchair": ("stroller",),
    "lounger": ("baby nest", "lounging pillow"),
    "figure": ("figurine", "action figure"),
    "figures": ("figurines",),
    "costume": ("dress up outfit", "cosplay set"),
    "car": ("vehicle",),
    "truck": ("lorry",),
    "book": ("board book",),
    "wooden": ("wood",),
    "kids": ("children",),
    "children's": ("kids",),
    "childrens": ("kids",),
    "baby": ("infant", "newborn"),
    "infant": ("baby",),
    "toddler": ("kids",),
    "set": ("kit",),
    "kit": ("set",),
    "stool": ("step stool", "helper stool"),
    "walker": ("push walker", "baby walker"),
    "pacifier": ("dummy", "soother"),
    "dummy": ("pacifier", "soother"),
    "drone": ("quadcopter",),
    "bike": ("bicycle",),
    "tricycle": ("trike",),
    "squishy": ("stress toy",),
    "fidget": ("sensory",),
    "necklace": ("chain",),
}

# Words a generic rewrite may put in front to describe rather than name the product.
GENERIC_QUALIFIERS: tuple[str, ...] = (
    "kids",
    "toddler",
    "children's",
    "educational",
    "cute",
    "mini",
    "new",
    "colourful",
)

# Product-type phrases a legitimate or evasive seller adds to a bare name or model number.
PRODUCT_TYPES: tuple[str, ...] = (
    "toy",
    "kids toy",
    "children's toy",
    "baby toy",
    "toddler toy",
    "gift for kids",
    "educational toy",
    "play set",
)

# Marketplace SEO spam, appended in a shuffled order.
SEO_SPAM: tuple[str, ...] = (
    "for kids",
    "toddlers",
    "boys girls",
    "3 4 5 6 years",
    "7 8 9 10 year old",
    "gift",
    "birthday",
    "Christmas",
    "stocking stuffer",
    "educational",
    "Montessori",
    "STEM",
    "best seller",
    "2024 new",
    "hot sale",
    "free shipping",
    "age 3+",
    "party favours",
    "learning toy",
    "fun",
    "toy",
    "present",
    "boys and girls",
    "easter basket",
)

PACK_TEMPLATES: tuple[str, ...] = (
    "{n} Pack {t}",
    "{t} - Set of {n}",
    "{t} ({n} Pcs)",
    "Bundle of {n} {t}",
    "{t} {n}-Pack",
    "{n}x {t}",
    "{t} Multipack",
    "{t} Bundle",
    "{t} Pack of {n}",
    "Set of {n} {t}",
)
PACK_SIZES: tuple[int, ...] = (2, 2, 3, 3, 4, 5, 6, 10, 12)

# Invisible characters sellers insert inside words: ZWSP, ZWNJ, ZWJ, word joiner, soft hyphen.
INVISIBLES: tuple[str, ...] = ("\u200b", "\u200c", "\u200d", "\u2060", "\u00ad")

# Letter -> leetspeak replacements (hand table: there is no library for leetspeak).
LEET_OUT: dict[str, tuple[str, ...]] = {
    "a": ("4", "@"),
    "e": ("3",),
    "i": ("1", "!"),
    "o": ("0",),
    "s": ("5", "$"),
    "t": ("7",),
    "l": ("1",),
}

# QWERTY neighbours for substitution typos.
KEYBOARD: dict[str, str] = {
    "q": "wa",
    "w": "qes",
    "e": "wrd",
    "r": "etf",
    "t": "ryg",
    "y": "tuh",
    "u": "yij",
    "i": "uok",
    "o": "ipl",
    "p": "ol",
    "a": "qsz",
    "s": "adwx",
    "d": "sfe",
    "f": "dgr",
    "g": "fht",
    "h": "gjy",
    "j": "hku",
    "k": "jli",
    "l": "ko",
    "z": "xa",
    "x": "zcs",
    "c": "xvd",
    "v": "cbf",
    "b": "vng",
    "n": "bmh",
    "m": "nj",
}

# Brand values that mean "no brand" in regulator data.
NO_BRAND: tuple[str, ...] = ("", "none", "unknown", "n/a", "na", "-", "no brand", "unbranded")


@dataclass(frozen=True)
class Wording:
    """The generic phrases a seller of this kind of product adds; blocklists also hold cars,
    bikes and chargers, and "for toddlers" on a motorcycle would teach the classifier nonsense."""

    qualifiers: tuple[str, ...]
    types: tuple[str, ...]
    spam: tuple[str, ...]
    suffixes: tuple[str, ...]


CHILD_WORDS: tuple[str, ...] = (
    "toy", "child", "kid", "baby", "babies", "infant", "toddler", "doll", "play", "teeth",
    "teether", "game", "puzzle", "plush", "slime", "rattle", "crib", "nursery", "stroller",
    "magnet", "costume", "school",
)  # fmt: skip

CHILD = Wording(
    qualifiers=GENERIC_QUALIFIERS,
    types=PRODUCT_TYPES,
    spam=SEO_SPAM,
    suffixes=("for kids", "for toddlers", "for children", "for babies"),
)
OTHER = Wording(
    qualifiers=("new", "quality", "durable", "premium", "portable", "original"),
    types=("item", "product", "new", "original", "genuine part"),
    spam=(
        "best price", "free shipping", "hot sale", "2024 new", "high quality", "durable",
        "gift", "uk stock", "fast delivery", "original", "top rated", "best seller", "cheap",
        "fits all", "warranty", "premium", "limited offer",
    ),
    suffixes=("original", "brand new", "free delivery", "uk stock"),
)  # fmt: skip
