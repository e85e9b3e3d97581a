"""Recall titles and brand fields → (brand, product name, aliases), as a listing would name them.

CPSC titles are sentences ("Fisher-Price Recalls Dumbbell Toy in Baby Biceps Gift Sets Due to
Choking Hazard"); a listing names the product part only, so matching needs it cut out.

Brand fields are dirty in ways the data shows (issue 10): regulator tags ("Gyroor (Recall
Alert)"), store names ("Ouwoer Direct", "Ecnup Exclusively on Amazon.com"), the regulator itself
("CPSC, TH!NK Mobility"), a retailer that issued the recall ("Walmart Recalls Swagtron …"), and,
for titles of the form "X Recalled …", a first word that is not a brand at all ("Pounding Toys",
"Little Pea Shop Crib Bumpers", "Tiny Land Children's Play Tents"). `clean_brand_aliases` strips
the tags and keeps store forms as aliases; `split_cpsc_title` reads the printed brand from the
notice's description ("Tiny Land-branded", "This recall involves the Lterfear Multifunction
Pounding Game"); `notice_aliases` collects the stores and licensed names a notice says the
product was sold under ("Sold on Amazon by SAMIT Outdoor").
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

import ftfy
import ftfy.bad_codecs  # registers "sloppy-windows-1252"

from model.matching.vocab import STOPWORDS

_MISSING = {"", "none", "null", "nan", "n/a", "na", "-", "unknown", "no brand", "unbranded"}
_PRODUCT_END = re.compile(
    r"\s+(?:Due to|Because|Sold (?:Exclusively|at|on|by)|Recall(?:ed)?\b|\(Recall Alert\))|[;:]"
    r"|,\s*Due",
    re.IGNORECASE,
)
_LEADING_NOISE = re.compile(
    r"^(?:to (?:Repair|Replace|Refund)\s+|Recall of\s+|the\s+"
    r"|(?:(?:Over|About|Nearly|More Than)\s+)?(?:One|Two|Three|[\d.,]+)\s+(?:Million|Thousand)\s+)",
    re.IGNORECASE,
)
_TITLE_PATTERNS = (  # first match wins; "brand" may be absent, "rest" follows "Recalled"
    re.compile(r"^CPSC,\s+(?P<brand>.+?),?\s+Announces?\s+Recall\s+(?:of\s+)?(?P<product>.+)$"),
    re.compile(
        r"^(?P<product>.+?)\s+(?:Recalled|Recall|Repair|Repaired|Replaced|Replacement|Retrofit)"
        r"\s+by\s+(?P<brand>.+?)(?:\s+Due to\b.*|;.*)?$",
        re.IGNORECASE,
    ),
    re.compile(r"^Recall of\s+(?P<product>.+?)\s+Expanded\b(?P<rest>.*)$"),
    re.compile(
        r"^(?P<brand>.+?)\s+(?:Recalls|Reannounces(?: and Expands)?|Expands|Renews Offer Of|Offers"
        r"|Recall(?=\s+[A-Z])(?!\s+(?:Alert|Of|By|Announced|Expanded)\b))\s+(?P<product>.+)$"
    ),
    re.compile(r"^(?P<product>.+?)\s+Recalled\b(?P<rest>.*)$"),
)
_BY_PHRASE = re.compile(
    r"(?:Imported|Manufactured|Distributed|Sold(?: Exclusively)?(?: on \w+)?) by (?P<who>[^;]+)$"
)
_CORPORATE = re.compile(
    r"(?:,?\s+(?:Inc|LLC|L\.L\.C|Ltd|Co|Corp|Corporation|GmbH|LP|S\.A|Limited)\.?)+$",
    re.IGNORECASE,
)
_GENERIC_LEADS = {"children's", "childrens", "kids", "baby", "infant", "toddler", "adult", "mini"}
_GENERIC_LEADS |= {"halloween", "christmas", "easter", "led", "usb", "magnetic", "portable"}
_GENERIC_LEADS |= {"montessori", "wooden", "plastic", "electric", "recalled", "certain"}
_WORD = re.compile(r"(?<![\w'])[a-z][a-z'\-]+")


_ALERT_TAG = re.compile(r"\s*\(\s*Recall Alert\s*\)\s*", re.IGNORECASE)
_REGULATOR_LEAD = re.compile(r"^(?:CPSC|U\.?S\.? CPSC)\s*(?:,|&|\band\b)\s*", re.IGNORECASE)
_STORE_TAIL = re.compile(
    r"(?:[\s-]+Direct|\s+(?:Sold\s+)?Exclusively\s+(?:on|at)\s+\S+|\s+on\s+Amazon(?:\.com)?)$",
    re.IGNORECASE,
)
_NOT_A_BRAND = re.compile(r"^(?:\w+ )?(?:Companies|Manufacturers|Firms|Retailers|Industry)$", re.I)
RETAILERS = frozenset(
    {"walmart", "target", "amazon", "aliexpress", "temu", "shein", "costco", "ikea", "kohl's",
     "wayfair", "lowe's", "kmart", "sam's club", "best buy", "home depot", "dollar general",
     "dollar tree", "toys r us"}
)  # fmt: skip
_NAME_WORD = r"[\w'!+]*(?:[.-][\w'!+]+)*"
_BRANDED = re.compile(
    rf"(?P<b>[A-Z]{_NAME_WORD}(?:(?: & | |-)[A-Z0-9]{_NAME_WORD}){{0,3}})(?:-|\s+)branded\b"
)
_INVOLVES = re.compile(
    r"This recall involves (?:the |a |an |all |certain |two |three |four )?"
    rf"(?P<run>[A-Z0-9]{_NAME_WORD}(?: (?:&|[A-Z0-9]{_NAME_WORD})){{0,5}})"
)
_SOLD_BY = re.compile(
    r"\b(?i:sold (?:exclusively )?(?:on|at|through|via) )(?:Amazon|Walmart|Temu|TEMU|TikTok Shop|"
    r"eBay|Target|Wayfair|AliExpress|SHEIN|Shein)(?:\.com)? (?i:by) (?P<who>[A-Z0-9][\w&'!+-]*"
    r"(?: (?!Due\b|From\b|Because\b)[A-Z0-9][\w&'!+-]*){0,3})"
)
_SOLD_AT = re.compile(
    r"\b(?i:sold (?:exclusively|only) (?:at|on|through) )(?P<who>[A-Z][\w'&-]*"
    r"(?: (?!Due\b|Stores?\b|Retail\b|Online\b)(?:[A-Z][\w'&-]*|\"?R\"? Us))"
    r"{0,3})"
)
# "This recall involves Airwalk brand hoverboards", "sold under the Isla Rae brand": the run of
# capitalised words just before "brand" names the printed brand (1-3 words: a longer run is a
# product name, "Swagway X1 Hands-Free Smartboard brand of …"). And the quoted or single word
# after "brand name": 'The brand name "MouTec"', "The brand name Werner appears …".
_BRAND_NOUN = re.compile(r"\bbrands?\b(?!-)")
_RUN_WORD = re.compile(r"(?:[A-Z][\w'!+]*(?:[.-][\w'!+]+)*|&)")
_BRAND_NAMED = re.compile(
    r"\bbrand(?: names?)? (?:is |are )?\"(?P<q>[^\"]{2,30}?)[,.]?\""
    r"|\bbrand names? (?:is |are )?(?P<w>[A-Z][\w!+-]+)\b"
)
_NOT_ALIASES = _MISSING | {"toys", "stores", "retailers", "amazon sellers", "third-party"}
# Licensed names a listing may use instead of the maker's brand.
LICENCES = (
    "Disney", "Marvel", "Star Wars", "Pixar", "Frozen", "Paw Patrol", "Peppa Pig", "Bluey",
    "Blippi", "Cocomelon", "Sesame Street", "Hello Kitty", "Pokemon", "Pokémon", "Minecraft",
    "Barbie", "Hot Wheels", "Spider-Man", "Spiderman", "Batman", "Nickelodeon", "Harry Potter",
    "Sonic the Hedgehog", "Super Mario", "Nintendo", "Thomas & Friends", "Baby Shark", "NFL",
    "NBA", "MLB", "Tony Hawk",
)  # fmt: skip
_LICENCE = re.compile(r"\b(?:" + "|".join(re.escape(x) for x in LICENCES) + r")\b")


_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, normalization="NFC")
# A UTF-8 character read as Windows-1252 ("â„¢" for "™"); ftfy leaves a short run like this
# alone when the text around it looks plausible, so each run is re-decoded on its own too.
_MOJIBAKE_RUN = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152-\u2122]{1,3}")


def _redecode(m: re.Match[str]) -> str:
    try:
        return m.group().encode("sloppy-windows-1252").decode("utf-8")
    except UnicodeError:
        return m.group()


def clean_text(value: Any) -> str:
    """Collapse stray tabs/newlines, decode HTML entities and mojibake (``Kids&#8217;`` →
    ``Kids’``, ``â„¢`` → ``™``; ftfy), and map the scrapers' missing markers ("None") to ""."""
    text = str(value) if value is not None else ""
    if "&" in text or not text.isascii():
        text = ftfy.fix_text(html.unescape(text), _FTFY)
        text = _MOJIBAKE_RUN.sub(_redecode, text)
    text = " ".join(text.split())
    return "" if text.lower() in ("none", "null", "nan") else text


def clean_brand_aliases(value: Any) -> tuple[str, tuple[str, ...]]:
    """(printed brand, store forms) from a raw brand field.

    "Ouwoer Direct (Recall Alert)" → ("Ouwoer", ("Ouwoer Direct",)); "Ecnup Exclusively on
    Amazon.com (Recall Alert)" → ("Ecnup", ()); "CPSC, TH!NK Mobility" → ("TH!NK Mobility", ()).
    The regulator's own tags and names are dropped; a store form ("… Direct") is kept as an
    alias because sellers list under it.
    """
    text = _ALERT_TAG.sub(" ", re.sub(r"[®™©]", "", clean_text(value))).strip(" ,.")
    text = _REGULATOR_LEAD.sub("", text)
    aliases: list[str] = []
    stripped = _STORE_TAIL.sub("", text).strip(" ,.-")
    if stripped and stripped != text:
        if re.search(r"Direct$", text, re.IGNORECASE):
            aliases.append(text)
        text = stripped
    if "doing business as" in text or "d/b/a" in text or " dba " in text:
        parts = re.split(r"doing business as|d/b/a| dba ", text)
        aliases.append(_tidy(parts[0]))
        text = parts[-1]
    text = _tidy(text)
    if text.lower() in _MISSING or _NOT_A_BRAND.match(text):
        text = ""
    return text, tuple(a for a in dict.fromkeys(aliases) if a and a.lower() != text.lower())


def _tidy(text: str) -> str:
    text = re.sub(r",?\s+of\s+[A-Z][\w .,'-]*$", "", text.strip(" ,."))  # "..., of Tianjin"
    return _CORPORATE.sub("", text.strip(" ,.")).strip(" ,.")


def clean_brand(value: Any) -> str:
    """The printed brand of a raw brand field (see `clean_brand_aliases`)."""
    return clean_brand_aliases(value)[0]


def notice_aliases(title: str, *texts: str) -> tuple[str, ...]:
    """Stores and licensed names a notice says the product was sold under.

    "Sold on Amazon by SAMIT Outdoor" → "SAMIT Outdoor"; "Sold Exclusively at Walmart" →
    "Walmart"; "featuring Disney's Frozen characters" → "Disney", "Frozen". `title` is whole
    (pass "" for a title a snapshotter cut); in the other `texts` (descriptions, which snapshots
    may cut: "… online at Costc") a store name must end before the text does.
    """
    found: list[str] = []
    for n, text in enumerate((title, *texts)):
        for pattern in (_SOLD_BY, _SOLD_AT):
            for m in pattern.finditer(text):
                if pattern is _SOLD_AT and text[m.end() :].startswith(" by "):
                    continue  # "Sold Exclusively on Amazon by X": X is the store (_SOLD_BY)
                if n == 0 or m.end() < len(text.rstrip()):
                    found.append(re.sub(r"\.com$", "", _tidy(m.group("who"))))
        found += _LICENCE.findall(text)
        if n > 0:
            found += brand_noun_aliases(text)
    return tuple(dict.fromkeys(f for f in found if len(f) >= 3 and f.lower() not in _NOT_ALIASES))


def brand_noun_aliases(text: str) -> list[str]:
    """Printed brands a notice names with the noun "brand" (see `_BRAND_NOUN`, `_BRAND_NAMED`)."""
    found: list[str] = []
    for m in _BRAND_NOUN.finditer(text):
        before = text[: m.start()].split()
        run: list[str] = []
        while before and _RUN_WORD.fullmatch(before[-1]) and before[-1] not in ("The", "A"):
            run.insert(0, before.pop())
        while run and run[0] == "&":
            run.pop(0)
        if 1 <= len(run) <= 3:
            found.append(" ".join(run))
    for m in _BRAND_NAMED.finditer(text):
        found.append(m.group("q") or m.group("w"))
    return found


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Lower-case words used mid-sentence in at least two records: ordinary words, not brands.

    A recall title such as "KMUYSL Big Red Barn Farm Animal Playsets Recalled ..." names no brand
    explicitly; its leading words that never appear lower-case elsewhere ("KMUYSL") are the brand.
    """
    seen: dict[str, int] = {}
    for text in texts:
        for word in set(_WORD.findall(text)):
            seen[word] = seen.get(word, 0) + 1
    return frozenset(w for w, n in seen.items() if n >= 2)


def _ordinary(word: str, vocab: frozenset[str]) -> bool:
    w = re.sub(r"'s$", "", word).lower()
    return w in vocab or w in _GENERIC_LEADS or w[:1].isdigit() or len(w) < 2


def printed_brand(description: str, vocab: frozenset[str], guess: str = "") -> str:
    """The brand a notice's description says is printed on the product, or "".

    "This recall involves Tiny Land-branded children's play tents" → "Tiny Land" (the
    "-branded" phrase is the notice's own way to name the label). Otherwise the words that open
    "This recall involves …" before the first ordinary word: "… the Lterfear Multifunction
    Pounding Game" → "Lterfear" when the title's guess was "Pounding" (a guess must appear in that
    phrase, not as its first word); "… Anzmtosn Magnet Fidget Spinner Sets" → "Anzmtosn" when the
    title gave no guess.
    """
    m = _BRANDED.search(description)
    if m:
        return re.sub(r"^The ", "", m.group("b"))
    m = _INVOLVES.search(description)
    if not m:
        return ""
    words = m.group("run").split()
    if guess:
        lowered = [re.sub(r"'s$", "", w).lower() for w in words]
        if guess.lower() not in lowered[1:]:
            return ""
    lead: list[str] = []
    for w in words:
        if w == "&" and lead:
            lead.append(w)
            continue
        if _ordinary(w, vocab) or (guess and w.lower() == guess.lower()):
            break
        lead.append(re.sub(r"'s$", "", w))
        if w.endswith("'s") or guess:  # with a title guess, only the word that opens the phrase
            break
    while lead and lead[-1] == "&":
        lead.pop()
    brand = " ".join(lead)
    return brand if len(brand) >= 3 else ""


def split_cpsc_title(
    title: str, vocab: frozenset[str] = frozenset(), description: str = ""
) -> tuple[str, str]:
    """(brand, product name) from a CPSC notice title (see `read_cpsc_title`), e.g.

    "Fisher-Price Recalls Dumbbell Toy in Baby Biceps Gift Sets Due to Choking Hazard" ->
    ("Fisher-Price", "Dumbbell Toy in Baby Biceps Gift Sets"). Listings are phrased like the
    product part, never like the "... Recalled Due to Risk of ..." sentence around it. When the
    title names no brand ("X Recalled …") or names a retailer, the description's printed brand
    wins over the first-word guess ("Tiny Land-branded …", "the Lterfear … Game").
    """
    brand, product, _ = read_cpsc_title(title, vocab, description)
    return brand, product


def read_cpsc_title(
    title: str,
    vocab: frozenset[str] = frozenset(),
    description: str = "",
    title_cut: bool = False,
) -> tuple[str, str, tuple[str, ...]]:
    """`split_cpsc_title` plus the aliases the notice gives: store forms of the brand field,
    stores and licences named in the title or description, and a recalling retailer that is not
    the printed brand ("Walmart Recalls Swagtron …" → brand "Swagtron", alias "Walmart").

    `title_cut`: the title may have been cut mid-word by a snapshotter (data/README.md: the
    catalystedge snapshot keeps 140 characters), so an "… by <name>" tail is not trusted.
    """
    title = clean_text(title)
    brand, product = "", title
    rest: str | None = None
    for pattern in _TITLE_PATTERNS:
        m = pattern.match(title)
        if m:
            groups = m.groupdict()
            brand, product = groups.get("brand") or "", groups["product"]
            rest = groups.get("rest")
            break
    product = _PRODUCT_END.split(product, maxsplit=1)[0]
    product = _LEADING_NOISE.sub("", product).strip(" ,.-") or title
    extra: list[str] = []
    if not brand and rest is not None:
        # "KMUYSL Big Red Barn ... Recalled": a first word that is no ordinary word is the brand,
        # unless the description names the printed brand ("Pounding Toys" are Lterfear's).
        words = product.split()
        first = re.sub(r"'s$", "", words[0]) if len(words) > 1 else ""
        generic = first.lower() in vocab or first.lower() in _GENERIC_LEADS
        guess = first if first[:1].isalpha() and "-" not in first and not generic else ""
        brand = printed_brand(description, vocab, guess) or guess
        by = _BY_PHRASE.search(rest)
        # "Imported by …", "Manufactured by …": the importer, not the label.
        if by and not title_cut:
            who = by.group("who")
            if not brand:
                brand = who
            elif who.lower() != brand.lower():
                extra.append(who)
    elif brand.lower() in RETAILERS:
        # "Walmart Recalls Swagtron SG-5 …": the retailer recalled it; the label is Swagtron.
        words = product.split()
        first = words[0] if words else ""
        if first.lower() == brand.lower() and len(words) > 2 and words[1][:1].isupper():
            first = f"{first} {words[1]}"  # "Amazon Basics", a retailer's own label
        own = first if first[:1].isupper() and not _ordinary(first, vocab) else ""
        branded = _BRANDED.search(description)
        label = (
            (re.sub(r"^The ", "", branded.group("b")) if branded else "")
            or own
            or printed_brand(description, vocab)
        )
        if label and label.lower() != brand.lower() and label.lower() not in RETAILERS:
            extra.append(brand)
            brand = label
    clean, store_forms = clean_brand_aliases(brand)
    others = [form for x in extra for form in (lambda c: (c[0], *c[1]))(clean_brand_aliases(x))]
    aliases = [*store_forms, *others, *notice_aliases("" if title_cut else title, description)]
    aliases = [a for a in dict.fromkeys(aliases) if a.lower() != clean.lower()]
    return clean, product, tuple(aliases)


_INVOLVES_CLAUSE = re.compile(r"This recall involves (?P<what>[^.;]{3,160})")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an|all|certain) ", re.IGNORECASE)


def _stems(text: str) -> set[str]:
    words = set(re.findall(r"[a-z0-9]{3,}", text.lower())) - STOPWORDS
    return {w.rstrip("s") for w in words}


def spliced_product(
    product: str, brand: str, description: str, vocab: frozenset[str]
) -> tuple[str, str] | None:
    """(product, printed brand) from the description when the title is another recall's.

    Some feed records splice two recalls: RecallRadar's cpsc-10830 has the title of Joolz's Aer2
    car-seat adapter recall over the description and hazard of the CooCooBaby lounger recall
    (also cpsc-10469, -10585, -10780, -10818 in the bundled feed). When the title's product and
    brand share no word (plural-folded, ≥ 3 letters) with a description that opens "This recall
    involves …", that clause names the product ("Classic and Deluxe CooCooBaby Baby Loungers")
    and `printed_brand` reads its label. None when the two agree or the description has no
    such clause.
    """
    m = _INVOLVES_CLAUSE.search(description)
    if not m or _stems(f"{product} {brand}") & _stems(description):
        return None
    quoted = {w.lower() for q in re.findall(r"[\"“”]([^\"“”]+)[\"“”]", m.group("what"))
              for w in q.split()}  # fmt: skip
    what = _LEADING_ARTICLE.sub("", re.sub(r"[\"“”]", "", m.group("what")).strip())
    label = printed_brand(f"This recall involves {what}", vocab)
    # A quoted word is a version name ("Classic", "Deluxe"), not the label.
    return what, "" if label.lower() in quoted else label
