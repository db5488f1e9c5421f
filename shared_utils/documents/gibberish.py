"""A cheap check that a page's extracted text is language, not gibberish.

A font whose ToUnicode map lies shows the right glyphs on screen while extraction yields
"Tol wbtw tbza il wyptlk": indexed silently, such a page can never be found and pollutes
answers. Two signals, both cheap: Latin-script languages share a letter profile (e, a, i, n,
o, r, s, t frequent; cosine similarity to English letter frequencies is 0.81-0.95 for
English, German, French, Spanish and Dutch prose and for code, and at most 0.68 for shifted
or permuted letters), and prose is full of function words ("the", "der", "le"...). A page is
flagged when its letter profile is off and it has few function words. Pages with little text,
or mostly non-Latin letters, are not judged (no flag is better than a wrong one).

A page of shell sessions or patch listings between sentences (debmake-doc pp. 38 and 93) has
an odd letter profile and a low share of function words (3.5-4.8 %), yet many different ones
(9-11); a garbled page has few different ones by chance: at most 7 (2.1 %) over 724 pages of
four manuals garbled by letter shifts and permutations, against >= 9 on those listings. So
eight different function words at a 3 % share keep a page's text layer (OCR'd instead, the
debmake manual took 20 s to ingest, not 0.3 s).

>>> looks_garbled("Tol wbtw tbza il wyptlk ilmvyl aol mpyza bzl huk aol chscl tbza il jsvzlk. " * 3)
True
>>> looks_garbled("The pump must be primed before the first use and the valve must be closed. " * 3)
False
>>> looks_garbled("int main(void) { return EXIT_SUCCESS; } /* exit status */ " * 5)
False
"""

from __future__ import annotations

import math
import re
from collections import Counter

MIN_WORDS, MIN_LETTERS = 20, 100
PROSE_KINDS, PROSE_SHARE = 4, 0.05  # different function words, and their share of all words
LISTING_KINDS, LISTING_SHARE = 8, 0.03  # code or command listings among sentences
_WORD_RE = re.compile(r"[^\W\d_]+")
# The most frequent short words of English, German, French, Spanish, Italian, Dutch and
# Portuguese: any page of prose in these languages is full of them.
FUNCTION_WORDS = frozenset(
    """
a an and are as at be but by can do for from has have he her his how i if in into is it its
may more must no not of on one or our she so than that the their them then there these they
this to was we were what when which who will with would you your all also any each only
der die das und ist nicht ein eine zu den von mit sich des auf für im dem auch es an als
le la les et est un une des du en pas que qui dans pour sur au par ne se ce il elle
el los las y es un una del al que por con para no se lo como más
il di che non per una sono della con gli nel
de het een en van ik te dat die in is niet op
o os as um uma do da dos das não em para com por
""".split()
)


# Relative letter frequencies of English text (percent), a through z.
_PROFILE = dict(
    zip(
        "abcdefghijklmnopqrstuvwxyz",
        (
            8.2,
            1.5,
            2.8,
            4.3,
            12.7,
            2.2,
            2.0,
            6.1,
            7.0,
            0.15,
            0.77,
            4.0,
            2.4,
            6.7,
            7.5,
            1.9,
            0.095,
            6.0,
            6.3,
            9.1,
            2.8,
            0.98,
            2.4,
            0.15,
            2.0,
            0.074,
        ),
        strict=True,
    )
)
_PROFILE_NORM = math.sqrt(sum(v * v for v in _PROFILE.values()))
MIN_SIMILARITY = 0.70


def letter_similarity(letters: str) -> float:
    """Cosine similarity of the a-z frequencies of ``letters`` to English's (1.0 = same)."""
    counts = Counter(c for c in letters if "a" <= c <= "z")
    norm = math.sqrt(sum(v * v for v in counts.values()))
    if not norm:
        return 1.0
    return sum(counts[k] * v for k, v in _PROFILE.items()) / (norm * _PROFILE_NORM)


def looks_garbled(text: str) -> bool:
    """True when ``text`` has enough Latin-script words to judge and they are not language."""
    words = [w.lower() for w in _WORD_RE.findall(text)]
    letters = "".join(words)
    if len(words) < MIN_WORDS or len(letters) < MIN_LETTERS:
        return False
    if sum(c.isascii() for c in letters) / len(letters) < 0.8:
        return False  # another script: this check knows nothing about it
    function = [w for w in words if w in FUNCTION_WORDS]
    kinds, share = len(set(function)), len(function) / len(words)
    if kinds >= PROSE_KINDS and share >= PROSE_SHARE:
        return False  # prose
    if kinds >= LISTING_KINDS and share >= LISTING_SHARE:
        return False  # listings explained in sentences
    return letter_similarity(letters) < MIN_SIMILARITY
