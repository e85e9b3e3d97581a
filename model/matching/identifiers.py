"""Identifier extraction: GTIN barcodes, Amazon ASINs and model / SKU / item numbers.

Why this module matters: an identifier shared by a listing and a recall is the strongest evidence
of a match. Two different products almost never share a barcode or a model number, whereas names
and descriptions overlap constantly. The flip side is that a *false* identifier (a year, a battery
size, a price or a safety-standard number read as a model number) produces a confident, wrongful
block of an honest seller, so every rule here errs towards extracting less.

Identifiers are compared in canonical form (upper-case ``A-Z0-9`` only, look-alike characters
folded) so that spacing, hyphens, case, full-width or Cyrillic letters cannot be used to dodge a
match: ``TB-MZWJ``, ``tb mzwj`` and ``ＴＢ－ＭＺＷＪ`` are all ``TBMZWJ``.

Robustness: no function raises on any ``str`` input (non-strings give empty results), input is
truncated to ``MAX_INPUT_CHARS``, and the work is one tokenising regex with no nested ambiguous
quantifiers followed by plain Python over the tokens, so run time is linear in the input length.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

MAX_INPUT_CHARS = 100_000
_MAX_TOKEN_CHARS = 40
_MAX_ID_CHARS = 30
_GTIN_LENGTHS = (8, 12, 13, 14)

# Latin look-alikes from Cyrillic/Greek (both cases) and the multiplication sign used in "5×5".
_LOOKALIKES = str.maketrans(
    dict(
        zip(
            "АВЕКМНОРСТУХІЈЅаеорсухіјѕΑΒΕΖΗΙΚΜΝΟΡΤΥΧοκρχνυ×",
            "ABEKMHOPCTYXIJSaeopcyxijsABEZHIKMNOPTYXokpxvux",
            strict=True,
        )
    )
)
_NON_ID = re.compile(r"[^A-Z0-9]+")
# A token: runs of letters/digits joined by single '-', '.' or '_' ("AJ0192-Y-3", "5x5", "v1.2").
# '/' is deliberately a separator: "A12/02685/24", "12/05/2024" and "AB-12/AB-13" split apart.
_TOKEN = re.compile(r"[^\W_]+(?:[-._][^\W_]+)*")
_CHUNK = re.compile(r"\S+")
_ASCII_CODE = re.compile(r"[A-Za-z0-9]+(?:[-._][A-Za-z0-9]+)*")
_LETTER_RUN = re.compile(r"[A-Za-z]+")

_UNITS = (
    "v|w|kw|mah|ah|wh|ma|kv|ml|cl|dl|l|ltr|lt|mm|cm|m|km|in|inch|inches|ft|feet|yd|oz|fl|lb|lbs|kg|"
    "kgs|g|mg|mcg|pcs|pc|pce|pk|pack|packs|piece|pieces|ct|count|x|gb|tb|mb|kb|hz|khz|mhz|ghz|y|yr|"
    "yrs|year|years|mo|mos|month|months|wk|wks|week|weeks|d|day|days|h|hr|hrs|min|mins|s|sec|st|nd|"
    "rd|th|a|k|p|mp|db|rpm|psi|hp|cc|gsm|qt|gal|sq|sqft|pt|c|f|deg|lm|lux|ppm|bar|kpa|mpa|er|t|ch|"
    "cms|mms|mtr|mtrs|metre|metres|meter|meters|litre|litres|liter|liters|gram|grams|volt|watt|amp|"
    "amps|ply|awg|led|leds|usb|port|ports|way|ways|gang|channel|channels|player|players"
)
_UNIT_SET = frozenset(_UNITS.split("|")) | {"watts", "volts", "units", "sets", "pairs"}
_NUM = r"\d+(?:[.,]\d+)?"
_QUANTITY = re.compile(rf"{_NUM}(?:x{_NUM})*(?:-{_NUM})?-?(?:{_UNITS})", re.IGNORECASE)
_DIMENSIONS = re.compile(rf"{_NUM}(?:x{_NUM})+", re.IGNORECASE)
_DATE = re.compile(
    r"\d{1,2}[-.]\d{1,2}[-.]\d{2,4}|\d{4}[-.]\d{1,2}(?:[-.]\d{1,2})?|\d{1,2}[-.](?:19|20)\d\d"
)
_VERSION = re.compile(r"v?\d+(?:\.\d+)+", re.IGNORECASE)
# Decimal-led tokens ("1.6HF", "2.4GHz") and wheel arrangements ("0-6-2T") read as numbers.
_NUMBER_LED = re.compile(r"\d+\.\d.*|\d+-\d+-\d+[A-Za-z]{0,2}")
_MONTH = re.compile(
    r"(?:\d{1,4}-?)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*-?\d{1,4}",
    re.IGNORECASE,
)
_BIG_NUMBER_CODE = re.compile(r"\d{5,}[A-Za-z]")
_FNSKU = re.compile(r"X00[A-Z0-9]{7}")  # Amazon fulfilment label code, as specific as an ASIN
# Canonical forms that mix letters and digits but name a format, platform, battery, standard or
# size rather than one product: matching on them would link unrelated listings and recalls.
_NOT_A_MODEL = re.compile(
    r"MP[345]|PS[1-5]|USB[1-4]|[23]DS|N64|H2O|CO2|COVID19|WW[12]|[24]WD|\d+IN\d+|\d+ER"
    r"|(?:CR|BR|LR|SR|AG|LIR)\d{2,5}[A-Z]?|EN\d{2,5}|ISO\d{3,5}|IEC\d{3,5}|ASTM[A-Z0-9]*"
    r"|F963\d*|E\d{2}|GU\d{1,2}|MR\d{2}|\d?X+[SL]|\d{1,2}PLUS|\d+D|NO\d+|R2D2|C3PO|BB8"
    r"|FFP[123]|K?N95|MY\d{2,4}|.*XXXX.*"
)
_STOPWORD_TEXT = (
    "THE AND FOR WITH NOT ALL ANY ARE WAS ITEM ITEMS SKU UPC EAN ASIN GTIN MODEL MODELS NUMBER "
    "NUMBERS SERIAL YEAR DATE CODE CODES BATCH LOT TYPE STYLE SIZE COLOR COLOUR NAME PRODUCT BRAND "
    "LED USB USA CPSC FDA NEW SET KIT TOY TOYS BABY KIDS PACK BOX MADE CHINA INC LLC LTD ONLY SEE "
    "TABLE BELOW ABOVE FROM NONE UNKNOWN PART PARTS REF NOS OF TO IN ON BY AT IS AS AN OR IT NO "
    "DVD PVC LCD PCS PKG BBQ BMX MTB ATV UTV SUV TNT"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_CUE_TEXT = "model models item sku skus style styles batch type set ref reference"
_STANDALONE_CUES = frozenset(_CUE_TEXT.split())
_QUALIFIED_CUES = frozenset(
    {"part", "parts", "product", "catalog", "catalogue", "cat", "article", "art", "items"}
)
_ALL_CUES = _STANDALONE_CUES | _QUALIFIED_CUES
_QUALIFIERS = frozenset({"number", "numbers", "no", "nos", "num", "nr", "code", "codes", "id"})
_LIST_WORDS = frozenset({"and", "or", "to"})
_CUE_GAP = re.compile(r"[\s.:#\"'“”‘’(=\-–]{1,6}")
_LIST_GAP = re.compile(r"\s*[,/;&+]\s*|\s+")
_CURRENCY = ("$", "£", "€", "¥")
_LETTER_CODE = re.compile(r"[A-Z]{1,4}(?:-[A-Z]{1,4})+")  # "OM-TD": hyphenated upper-case parts
_CODE_PARTS = re.compile(r"[-._ ]+")
# A year or a day+month at the start reads as a date or batch code, not a product family.
_DATE_LED = re.compile(r"(?:19|20)\d\d|\d{0,2}(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)")
_BARCODE_CUES = frozenset({"EAN", "EAN8", "EAN13", "UPC", "UPCA", "GTIN", "GTIN8", "BARCODE"})
_VOWELS = frozenset("AEIOUYaeiouy")


class _Tok(NamedTuple):
    raw: str
    canon: str
    gap: str  # the text between the previous token and this one


def canonical_id(token: str) -> str:
    """Upper-case A-Z0-9 form of an identifier; equal forms mean "the same identifier".

    Folding case, punctuation, full-width and Cyrillic/Greek look-alikes defeats the cheap evasions
    (``TB-MZWJ`` vs ``tb mzwj`` vs ``ТВ-MZWJ``) a seller of a recalled product might try.
    """
    if not isinstance(token, str):
        return ""
    folded = unicodedata.normalize("NFKC", token[:MAX_INPUT_CHARS]).translate(_LOOKALIKES)
    return _NON_ID.sub("", folded.upper())


def is_valid_gtin(digits: str) -> bool:
    """True for a GTIN-8/12/13/14 (EAN-8, UPC-A, EAN-13, ITF-14) whose check digit is right.

    The checksum is what lets us trust a digit run as a barcode instead of a phone number or a
    quantity; an all-zero run passes the arithmetic but is never a real product, so it is refused.
    """
    if not isinstance(digits, str) or len(digits) not in _GTIN_LENGTHS:
        return False
    if not (digits.isascii() and digits.isdigit()) or not digits.strip("0"):
        return False
    body = digits[:-1]
    total = 3 * sum(map(int, body[::-2])) + sum(map(int, body[-2::-2]))
    return (10 - total % 10) % 10 == int(digits[-1])


def _drop_url(m: re.Match[str]) -> str:
    """Blank out URLs and e-mail addresses: their paths are full of letter+digit junk."""
    chunk = m.group().lower()
    return " " if "@" in chunk or chunk.startswith(("http://", "https://", "www.")) else m.group()


def _tokens(text: object) -> list[_Tok]:
    if not isinstance(text, str) or not text:
        return []
    folded = unicodedata.normalize("NFKC", text[:MAX_INPUT_CHARS]).translate(_LOOKALIKES)
    folded = _CHUNK.sub(_drop_url, folded)
    out: list[_Tok] = []
    prev_end = 0
    for m in _TOKEN.finditer(folded):
        raw = m.group()
        out.append(_Tok(raw, _NON_ID.sub("", raw.upper()), folded[prev_end : m.start()]))
        prev_end = m.end()
    return out


def _is_digits(raw: str) -> bool:
    return raw.isascii() and raw.replace("-", "").isdigit()


def _is_asin(tok: _Tok) -> bool:
    return (
        len(tok.raw) == 10
        and tok.raw.isascii()
        and tok.raw.isalnum()
        and (tok.raw.isupper() or tok.raw.islower())
        and tok.canon.startswith("B0")
    )


def _looks_like_date8(d: str) -> bool:
    return d[:2] in ("19", "20") and "01" <= d[4:6] <= "12" and "01" <= d[6:] <= "31"


_UPC_LIST = re.compile(
    r"\bUPCs?\b(?:\s+(?:codes?|numbers?|nos?\.?))?[:\s#]*((?:\d{11}\b[,;\s]*(?:and\s+|or\s+)?)+)",
    re.I,
)


def upcs_missing_check_digit(text: str) -> list[str]:
    """UPC-A codes a notice prints without their check digit, completed and padded to 14 digits.

    Eleven digits after "UPC" are taken as a UPC-A body; the completed code compares equal to
    what a listing's box shows.

    Source: CPSC notice 1043 gives "UPC codes 68706404210, and 68706404244", the box in a
    resale listing says "UPC 687064042445" (the same code with its check digit, 5).
    """
    out = []
    for m in _UPC_LIST.finditer(text[:MAX_INPUT_CHARS]):
        for body in re.findall(r"\d{11}", m.group(1)):
            total = 3 * sum(map(int, body[::2])) + sum(map(int, body[1::2]))
            out.append((body + str((10 - total % 10) % 10)).zfill(14))
    return out


def extract_gtins(text: str) -> list[str]:
    """Check-digit-valid 8/12/13/14-digit barcodes, zero-padded to 14 digits.

    Padding makes a UPC-A and its EAN-13 form (``887961809596`` / ``0887961809596``) compare
    equal. Up to four digit groups separated by one space are joined when laid out like a
    printed barcode (``0 88796 18095 9``: a lone leading or trailing digit) or when they follow a
    barcode word ("EAN", "UPC", "GTIN", "barcode"). A random digit run passes the checksum one
    time in ten, so an 8-digit code also needs such a word, one unbroken token, and not a date.
    """
    return _gtins(_tokens(text))


def _gtins(toks: list[_Tok]) -> list[str]:
    out: dict[str, None] = {}
    i = 0
    while i < len(toks):
        if not _is_digits(toks[i].raw) or toks[i].gap.endswith("+"):  # "+44 ..." is a phone
            i += 1
            continue
        j = i + 1  # toks[i:j] is a maximal run of digit tokens glued by a single space
        while j < len(toks) and _is_digits(toks[j].raw) and toks[j].gap in (" ", "\u00a0"):
            j += 1
        k = i
        while k < j:
            cue = None
            found, best, joined = 0, "", ""
            for end in range(k, min(j, k + 4)):  # printed barcodes have at most 4 groups
                joined += toks[end].canon
                if len(joined) > 14:
                    break
                if len(joined) not in _GTIN_LENGTHS or not is_valid_gtin(joined):
                    continue
                if cue is None:
                    cue = any(t.canon in _BARCODE_CUES for t in toks[max(0, k - 3) : k])
                if len(joined) == 8 and not (
                    cue and end == k and toks[k].raw.isdigit() and not _looks_like_date8(joined)
                ):
                    continue
                printed = len(toks[k].canon) == 1 or len(toks[end].canon) == 1
                if end == k or cue or printed:
                    found, best = end - k + 1, joined
            if found:
                out.setdefault(best.zfill(14), None)
                k += found
            else:
                k += 1
        i = j
    return list(out)


def extract_asins(text: str) -> list[str]:
    """Amazon ASINs (``B0`` + 8 letters/digits), canonical, in order of first appearance.

    An ASIN names one Amazon catalogue page, so it pins a listing to a recalled product as firmly
    as a barcode. Mixed-case tokens are refused: real ASINs are printed in one case.
    """
    return _asins(_tokens(text))


def _asins(toks: list[_Tok]) -> list[str]:
    return list(dict.fromkeys(t.canon for t in toks if _is_asin(t)))


def _word_like(raw: str) -> bool:
    """A letter run that reads as a word ("Hover-1", "Covid19", "Kingpin10"), not as a code.

    Five or more digits make a code whatever its letters: "APPLLC120806218142", printed on the
    recalled Bolt scooters (cpsc-9440), is a serial, not a word with a number.
    """
    if sum(c.isdigit() for c in raw) >= 5:
        return False
    for run in _LETTER_RUN.findall(raw):
        has_vowel = any(c in _VOWELS for c in run)
        if has_vowel and (len(run) >= 4 or (len(run) >= 3 and not run.isupper())):
            return True
    return False


def _is_cue(toks: list[_Tok], i: int) -> int:
    """Number of tokens forming a cue phrase starting at ``i`` ("Model number:", "SKU"), or 0."""
    parts = toks[i].raw.lower().replace(".", "-").split("-")
    head, quals = parts[0], parts[1:]
    if not all(q in _QUALIFIERS for q in quals) or head not in _ALL_CUES:
        return 0
    used = 1
    if i + 1 < len(toks) and toks[i + 1].raw.lower() in _QUALIFIERS and len(toks[i + 1].gap) <= 2:
        quals.append(toks[i + 1].raw)
        used = 2
    gap_next = toks[i + 1].gap if i + 1 < len(toks) else ""
    if head in _QUALIFIED_CUES and not quals and "#" not in gap_next:
        return 0
    return used


def _letter_code(raw: str) -> bool:
    """Hyphenated upper-case letter parts, one of them vowel-less: "OM-TD" (not "NO-GO")."""
    if not _LETTER_CODE.fullmatch(raw):
        return False
    return any(not any(c in _VOWELS for c in part) for part in raw.split("-"))


def _accept(raw: str, canon: str, cue: bool, next_tok: _Tok | None) -> bool:
    """Whether a candidate is specific enough to be trusted as a model/SKU/item number."""
    if len(raw) > _MAX_TOKEN_CHARS or not (3 if cue else 4) <= len(canon) <= _MAX_ID_CHARS:
        return False
    if not _ASCII_CODE.fullmatch(raw):
        return False
    if canon in _STOPWORDS or _NOT_A_MODEL.fullmatch(canon):
        return False
    if any(p.fullmatch(raw) for p in (_DIMENSIONS, _DATE, _VERSION, _MONTH)):
        return False
    if _QUANTITY.fullmatch(raw) and not (cue and _BIG_NUMBER_CODE.fullmatch(raw)):
        return False  # "12V", "100ml"; but "Model 11064W" is a model, not 11 kW
    if not cue and _NUMBER_LED.fullmatch(raw):
        return False
    if canon.isdigit():  # pure numbers: only after a cue, never a year, decimal, price or count
        if not cue or len(canon) < 4 or "." in raw or "_" in raw:
            return False
        if len(canon) == 4 and 1900 <= int(canon) <= 2099:
            return False
        if len(canon) in _GTIN_LENGTHS and is_valid_gtin(canon):
            return False
        return not (next_tok and next_tok.raw.lower() in _UNIT_SET and next_tok.gap.isspace())
    if len(canon) == 10 and canon.startswith("B0") and (raw.isupper() or raw.islower()):
        return False  # an ASIN: reported by extract_asins
    if not any(c.isdigit() for c in canon):
        # Letters only: only after a cue, and only vowel-less ("TB-MZWJ", "MGC") or upper-case
        # short parts joined by hyphens ("OM-TD"), since all-caps titles are full of ordinary
        # words ("TRAIN SET TRACK LIGHT") that follow cue words.
        return cue and (not any(c in _VOWELS for c in canon) or _letter_code(raw))
    return cue or bool(_FNSKU.fullmatch(canon)) or not _word_like(raw)


def _fragment(tok: _Tok) -> bool:
    """Could this token be (part of) a code value after a cue word?"""
    low = tok.raw.lower()
    if low in _ALL_CUES or low in _LIST_WORDS:
        return False
    if len(tok.raw) > _MAX_TOKEN_CHARS or tok.canon in _STOPWORDS:
        return False
    if not _ASCII_CODE.fullmatch(tok.raw):
        return False
    if tok.canon.isdigit() and len(tok.canon) == 4 and 1900 <= int(tok.canon) <= 2099:
        return False  # a year ends a value list: "Models 2022 FE 350 2022 FE 501" is a table
    if any(c.isdigit() for c in tok.raw):
        return True
    if low in _UNIT_SET:  # "32 x 28 cm" is a size, not a three-part code
        return False
    if _letter_code(tok.raw):
        return True  # "OM-TD"
    return (tok.raw.isupper() and len(tok.canon) <= 3) or not any(c in _VOWELS for c in tok.canon)


def _emit_group(group: list[int], toks: list[_Tok], out: dict[str, int]) -> None:
    """Emit a space-separated value group: joined if a part cannot stand alone ("YJ MGC 5x5")."""
    nxt = [toks[g + 1] if g + 1 < len(toks) else None for g in group]
    alone = [_accept(toks[g].raw, toks[g].canon, True, n) for g, n in zip(group, nxt, strict=True)]
    if len(group) > 1 and not all(alone):
        canon = "".join(toks[g].canon for g in group)
        if _accept("".join(toks[g].raw for g in group), canon, True, nxt[-1]):
            out.setdefault(canon, group[0])
    for g, ok in zip(group, alone, strict=True):
        if ok:
            out.setdefault(toks[g].canon, g)


def _cue_values(toks: list[_Tok], k: int, out: dict[str, int], used: set[int]) -> int:
    """Read the value list after a cue ("AB-12, AB-13 and AB-14"); return the index after it."""
    group: list[int] = []
    n_values = 0
    while k < len(toks) and n_values < 30 and _fragment(toks[k]):
        group.append(k)
        used.add(k)
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if nxt is None:
            k += 1
            break
        if nxt.gap == " " and len(group) < 4 and _fragment(nxt):
            k += 1
            continue
        _emit_group(group, toks, out)
        group, n_values = [], n_values + 1
        if nxt.raw.lower() in ("and", "or") and nxt.gap.isspace() and k + 2 < len(toks):
            if not _LIST_GAP.fullmatch(toks[k + 2].gap):
                return k + 1
            k += 2
            continue
        if not _LIST_GAP.fullmatch(nxt.gap) or nxt.gap.isspace():
            return k + 1
        k += 1
    if group:
        _emit_group(group, toks, out)
    return k


def extract_model_numbers(text: str) -> list[str]:
    """Model / SKU / item / style / part numbers, canonical, deduplicated, in order of appearance.

    Two sources: values after a cue word ("Model number: TB-MZWJ", "SKU: AJ0192-Y-3", "set 75192",
    "Model numbers AB-12, AB-13 and AB-14"), and free-standing tokens that mix letters and digits
    and read as a code ("GJD49", "R3264"). Excluded: GTINs and ASINs (their own lists), years,
    quantities and units ("12V", "100ml", "2pcs"), dates, prices, versions, battery sizes and
    safety-standard numbers. A bare number counts only after a cue and with at least 4 digits.
    """
    return _models(_tokens(text))


def _models(toks: list[_Tok]) -> list[str]:
    out: dict[str, int] = {}  # canonical id -> index of the token it first came from
    used: set[int] = set()
    i = 0
    while i < len(toks):
        n_cue = _is_cue(toks, i)
        first = i + n_cue
        if n_cue and first < len(toks) and _CUE_GAP.fullmatch(toks[first].gap):
            used.update(range(i, first))
            i = max(_cue_values(toks, first, out, used), first)
        else:
            i += 1
    for idx, tok in enumerate(toks):
        # Outside a cue only a code mixing letters and digits is accepted (`_accept`): a word
        # ("toy", canon all letters) is skipped before the regular expressions run.
        if idx in used or tok.canon.isalpha() or tok.canon.isdigit() or _is_asin(tok):
            continue
        nxt = toks[idx + 1] if idx + 1 < len(toks) else None
        if not tok.gap.endswith(_CURRENCY) and _accept(tok.raw, tok.canon, False, nxt):
            out.setdefault(tok.canon, idx)
    return sorted(out, key=out.__getitem__)


def code_family(raw: str) -> tuple[str, ...]:
    """Shorter forms of one model code that notices and listings also use, canonical.

    A notice may give a code in full where a listing shortens it, or the other way round:
    ``KY-E008`` / ``E008`` (a short letter prefix dropped), ``SL712-202201`` / ``SL712`` (a date
    or batch suffix dropped), ``AJ0192-Y-3`` / ``AJ0192``. Returned: the family forms only (not
    the full code), each a code on its own (``_accept``: 4+ characters mixing letters and
    digits, not a quantity, standard or year). ``()`` for a code with one part.
    """
    if not isinstance(raw, str):
        return ()
    parts = [p for p in _CODE_PARTS.split(raw.strip()) if p]
    if len(parts) < 2:
        return ()
    full = canonical_id(raw)
    out: dict[str, None] = {}
    for k in range(1, len(parts)):  # the shortest prefix that is a code: "AJ0192" of AJ0192-Y-3
        cand = "-".join(parts[:k])
        canon = canonical_id(cand)
        if canon.isdigit() or canon.isalpha() or _DATE_LED.match(canon):
            continue
        if _accept(cand, canon, False, None):
            out.setdefault(canon, None)
            break
    if len(parts) == 2 and len(parts[0]) <= 3 and parts[0].isalpha():  # "KY-E008" -> "E008"
        rest = parts[1]
        canon = canonical_id(rest)
        if rest[:1].isalpha() and not canon.isalpha() and _accept(rest, canon, False, None):
            out.setdefault(canon, None)
    out.pop(full, None)
    return tuple(out)


def model_numbers_with_families(text: str) -> list[str]:
    """`extract_model_numbers` followed by the `code_family` forms of each code found."""
    toks = _tokens(text)
    found = _models(toks)
    raw_of = {t.canon: t.raw for t in toks}
    out = dict.fromkeys(found)
    for canon in found:
        for fam in code_family(raw_of.get(canon, "")):
            out.setdefault(fam, None)
    return list(out)


def extract_identifiers(text: str) -> frozenset[str]:
    """Every identifier in ``text`` (GTIN-14s, ASINs, model numbers), canonical, as one set."""
    toks = _tokens(text)
    return frozenset(_gtins(toks)) | frozenset(_asins(toks)) | frozenset(_models(toks))
