"""Word lists the pair features use: children's-product words and stopwords."""

# Words that mark a product for children; the recall lists mix toys with bikes, heaters and
# cars, so agreement on this axis is cheap, strong evidence against cross-domain matches.
CHILD_WORDS = frozenset(
    [
        "toy",
        "toys",
        "child",
        "children",
        "kid",
        "kids",
        "baby",
        "babies",
        "infant",
        "infants",
        "toddler",
        "toddlers",
        "teether",
        "teething",
        "rattle",
        "doll",
        "dolls",
        "playset",
        "puzzle",
        "game",
        "games",
        "plush",
        "stuffed",
        "figure",
        "figures",
        "lego",
        "block",
        "blocks",
        "stacking",
        "crib",
        "stroller",
        "pacifier",
        "slime",
        "bath",
        "play",
        "playing",
        "squishy",
        "magnetic",
        "magnet",
        "fidget",
        "costume",
        "dress",
        "nursery",
        "bib",
    ]
)
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "for",
        "with",
        "in",
        "on",
        "to",
        "by",
        "from",
        "or",
        "set",
        "sets",
        "pack",
        "pcs",
        "piece",
        "pieces",
        "new",
        "kids",
        "toy",
        "toys",
        "recalled",
        "recall",
    ]
)

# Words that name an edition or variant of a product line rather than the product itself
# ("Exploding Kittens *Original Edition*" vs the recalled "*Extreme Going Pro Edition*", "Micro
# *Maxi*" vs the recalled Mini Micro). Source: the benign look-alikes of `data/realworld-dev`
# and common marketplace variant names; a listing naming a variant the notice does not, or
# lacking one the notice's product name has, is weaker evidence of the recalled product.
VARIANT_WORDS = frozenset(
    [
        "edition",
        "extreme",
        "pro",
        "deluxe",
        "plus",
        "max",
        "maxi",
        "mini",
        "micro",
        "xl",
        "xxl",
        "lite",
        "light",
        "original",
        "classic",
        "standard",
        "junior",
        "jr",
        "ultra",
        "premium",
        "limited",
        "special",
        "sport",
        "gen",
        "generation",
        "series",
        "version",
        "evo",
        "elite",
        "air",
        "flex",
    ]
)

# Basic colour words, with spelling variants mapped to one form. A listing naming only colours
# a notice does not list ("INIU ... Red" when the notice says "a black or blue case") is weaker
# evidence (the benign INIU case of `data/realworld-dev`).
COLOURS = {
    "black": "black",
    "white": "white",
    "red": "red",
    "blue": "blue",
    "green": "green",
    "yellow": "yellow",
    "pink": "pink",
    "purple": "purple",
    "orange": "orange",
    "grey": "grey",
    "gray": "grey",
    "silver": "silver",
    "gold": "gold",
    "brown": "brown",
    "beige": "beige",
    "navy": "navy",
    "teal": "teal",
    "turquoise": "turquoise",
}


def colours_of(words: frozenset[str] | set[str]) -> frozenset[str]:
    """The basic colours among `words` (normalised tokens), in one spelling each."""
    return frozenset(COLOURS[w] for w in words if w in COLOURS)
