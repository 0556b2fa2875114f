"""A pure-Python tokenizer that gives the tokens of coco-caption's PTB tokenizer without Java.

pycocoevalcap's `PTBTokenizer` runs Stanford CoreNLP 3.4.1's `PTBTokenizer -preserveLines -lowerCase`
(one output line per caption), splits each line on spaces and drops the tokens in its `PUNCTUATIONS`
list. This module reproduces that: a longest-match scanner (ties go to the earlier rule, as in
JFlex) over the lexer's rules that occur in captions, then lower-casing and the same punctuation
filter. The behaviour was read off the jar's output (tests/caption/metrics hold the evidence):

- clitics split off: "don't" -> "do n't", "can't" -> "ca n't", "man's" -> "man 's", "we're" ->
  "we 're"; "cannot" -> "can not", "gonna" -> "gon na", "'tis" -> "'t is", "y'all" -> "y' all";
  "o'clock", "d'angelo", "rock 'n' roll" stay whole;
- hyphenated words, numbers and times stay whole ("3-year-old", "3.5", "1,000", "5:30", "-5",
  "and/or", "12/25/2014"); a number with a unit splits ("1.5m" -> "1.5 m");
- abbreviations keep their period ("a.m.", "u.s.", "mr.", "st.", "etc.", "no." before a digit);
  a period after a word is its own token (and dropped): "flag." -> "flag";
- quotes become `` '' ` ' (dropped); brackets become -lrb- -rrb- -lsb- -rsb- -lcb- -rcb- (kept: the
  filter lists them upper-case, the tokenizer prints them lower-case); "--", "...", "?!" and "!!"
  are kept or dropped exactly as the jar's tokens are.

Not reproduced (rare in captions; the jar is used whenever Java is present): URLs other than
http(s)/ftp, phone numbers with parentheses, SGML tags and the lexer's list of untokenizable
characters beyond emoji.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterator, Optional, Sequence

from pycocoevalcap.tokenizer.ptbtokenizer import PUNCTUATIONS

DROPPED = frozenset(PUNCTUATIONS)

# characters that end a line for the Java tokenizer; a caption holding one would be split in two
LINE_BREAKS = re.compile("[\r\n\u2028\u2029\x0b\x0c]")

# a letter: Python's \w also holds numeric symbols (superscripts, vulgar fractions) that Java does not call letters
_L = "[^\\W\\d_\u00b2\u00b3\u00b9\u00bc-\u00be\u2070-\u209f\u2150-\u218f\u2460-\u24ff\u2776-\u2793]"
_AN = f"(?:{_L}|\\d)"  # a letter or a digit
_APOS = "['\u0092\u2019\u00b4]"
_APOSX = "['\u0092\u2019\u00b4`\u0091\u2018\u201b]"
_SPACE = "[ \t\u00a0\u2000-\u200a\u3000]"
_NUM = r"(?:\d*(?:[.:,]\d+)+|\d+(?:[.:,]\d+)*)"
_NUMBER = rf"[-+]?{_NUM}"
_WORD = rf"{_L}(?:{_L}|\d)*(?:[.!?]{_L}(?:{_L}|\d)*)*"
_ACRONYM = r"[A-Za-z](?:\.[A-Za-z])*\."
_SENTENCE_STARTS = ("About|According|Additionally|After|An|A|As|At|But|Did|During|Earlier|He|Her|Here|How|However|If|"
                    "In|It|Last|Many|More|Mr\\.|Ms\\.|Now|Once|One|Other|Our|She|Since|So|Some|Such|That|The|Their|"
                    "Then|There|These|They|This|We|When|While|What|Who|Why|Yet|You")
# first letter as written, the rest in any case (the lexer matches literal strings caselessly)
_STARTS = "|".join(f"{w[0]}(?i:{w[1:]})" if len(w) > 1 else w for w in _SENTENCE_STARTS.split("|"))

# abbreviations that keep their period (read off the jar: lexer lists ABBREV1 and ABBREV2)
_ABBREVIATIONS = (
    "adj|adm|adv|al|ala|alex|apr|ariz|assn|assoc|asst|atty|attys|aug|ave|bancorp|bhd|bldg|blvd|brig|bros|calif|capt|"
    "cf|cie|cmdr|co|col|colo|comdr|conn|corp|cos|cpl|ct|dak|dec|dept|det|dr|drs|elec|ens|esq|est|etc|ext|feb|fla|fri|"
    "ft|ga|gen|gov|govs|hon|inc|ind|insp|intl|invt|jan|jos|jr|jul|jun|kan|kans|ky|lieut|lt|ltd|maj|mar|md|messrs|mich|"
    "minn|mlle|mme|mo|mon|mont|mr|mrs|ms|msgr|mt|natl|neb|nev|nov|oct|okla|penn|pfc|ph|plc|pres|prof|profs|pvt|rd|"
    "rep|reps|rev|rt|sen|sens|sep|sept|seq|sfc|sgt|spc|sq|sr|st|ste|supt|supts|sys|tel|tenn|thu|thurs|treas|tue|tues|"
    "univ|v|va|vs|vt|wed|wis|wisc|wm|wyo|a\\.k\\.a|(?:ed|ph)\\.d")
_ABBREVIATIONS_CAPITAL = "|".join(f"{w[0]}(?i:{w[1:]})" for w in "Ark Az Del Ill La Mass Miss Ore Pa Tex Wash".split())
_ABBREVIATIONS_MIXED = "(?i:m)[ft](?i:g)|(?i:pp?t)[ye](?i:s)?"  # Mfg, Mtg, Pty, Pte(s): middle letter lower-case
_ABBREVIATIONS_BEFORE_DIGIT = "ca|figs?|prop|nos?|art|bldg|pp|op"

_BRACKETS = {"(": "-LRB-", ")": "-RRB-", "[": "-LSB-", "]": "-RSB-", "{": "-LCB-", "}": "-RCB-"}
_CURRENCY = {"\u00a3": "#", "\u00a2": "cents", "\u20ac": "$", "\u0080": "$"}
_FRACTIONS = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4"}
_QUOTE_CHARS = "'\u0092\u2019\u00b4`\u2018-\u201f\u0082\u0084\u0091-\u0094\u2039\u203a\u00ab\u00bb"


def _latex_quotes(text: str, probably_left: bool) -> str:
    """Quote characters as the lexer writes them (`` '' ` '), given whether the quote probably opens."""
    text = re.sub("\"|''|'`|`'", "``" if probably_left else "''", text)
    text = text.replace("'", "`" if probably_left else "'")
    text = re.sub("[\u0082\u008b\u0091\u2018\u201a\u201b\u2039](?!')", "`", text)
    text = re.sub("[\u0084\u0093\u201c\u201e\u00ab]|[\u0091\u2018]'", "``", text)
    text = re.sub("[\u0094\u201d\u00bb]|[\u0092\u2019]'", "''", text)
    return re.sub("[\u0092\u009b\u00b4\u2019\u203a]", "'", text)


def _apostrophes(text: str) -> str:
    """Apostrophe look-alikes inside a word written as "'"."""
    return re.sub("[\u0092\u2019\u00b4]", "'", text)


@dataclass(frozen=True)
class _Rule:
    """One lexer rule: `pattern` matches the token (group `tok`) plus any trailing context; `make` gives the
    tokens to emit from the token text (None: the token text itself)."""

    pattern: re.Pattern
    make: Optional[Callable[[str], list[str]]] = None
    keep: int = 0  # > 0: emit only the first len-keep characters and scan the last `keep` again


def _rule(pattern: str, make: Optional[Callable[[str], list[str]]] = None, keep: int = 0) -> _Rule:
    if "(?P<tok>" not in pattern:
        pattern = f"(?P<tok>{pattern})"
    return _Rule(re.compile(pattern), make, keep)


def _dashes(text: str) -> list[str]:
    return ["--"] if 3 <= len(text) <= 4 else [text]


def _no_soft_hyphens(text: str) -> list[str]:
    return [text.replace("\u00ad", "")]


# In the lexer's order (a tie in length goes to the earlier rule); the comments name its rule.
_RULES: tuple[_Rule, ...] = (
    _rule(f"(?i:cannot|{_APOS}twas)", keep=3),  # ASSIMILATIONS3: can|not, 't|was
    _rule(f"(?i:{_APOS}tis|gonna|gotta|lemme|gimme|wanna)", keep=2),  # ASSIMILATIONS2: gon|na, 't|is
    _rule("&(?:MD|mdash|ndash);|[\u0096\u0097\u2013\u2014\u2015]", lambda t: ["--"]),  # SPMDASH
    _rule("&amp;", lambda t: ["&"]),  # SPAMP
    _rule(f"(?P<tok>{_WORD}){_APOS}(?i:[msd]|re|ve|ll)", _no_soft_hyphens),  # WORD before 's 're ...
    _rule(f"(?P<tok>{_L}*[A-MO-Za-mo-z]\u00ad*)(?i:n){_APOSX}(?i:t)"),  # SWORD before n't
    _rule(_WORD, _no_soft_hyphens),  # WORD
    _rule(f"{_APOS}(?i:n){_APOS}?|[lLdDjJ]{_APOS}|(?i:dunkin|somethin|ol){_APOS}|{_APOS}(?i:em)"  # APOWORD
          f"|(?i:diff){_APOSX}(?i:rent)|[A-HJ-XZa-hj-xzn]{_APOSX}{_L}{{2,}}|{_APOS}[2-9]0(?i:s)|{_APOS}(?i:till?)"
          f"|{_L}+[aeiouyAEIOUY]{_APOSX}[aeiouA-Z]{_L}*|{_APOS}(?i:cause)", lambda t: [_latex_quotes(t, False)]),
    _rule(f"(?P<tok>[yY]{_APOS}){_L}", lambda t: [_apostrophes(t)]),  # APOWORD2: y'all
    _rule(r"(?:ftp|svn|svn\+ssh|http|https|mailto)://[^ \t\n\f\r\"<>|(){}\[\]]+"  # FULLURL
          r"[^ \t\n\f\r\"'<>|.!?(){},;:&\[\]-]"),
    _rule(r"(?:&lt;|<)?(?:mailto:)?[a-zA-Z0-9._%+-]+@[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9](?:&gt;|>)?"),  # EMAIL
    _rule(r"@[a-zA-Z_][a-zA-Z_0-9]*|#" + f"{_L}(?:{_L}|\\d|_)*(?:{_L}|\\d)"),  # TWITTER
    _rule(f"(?P<tok>{_APOS}(?i:[msd]|re|ve|ll))[\\W\\d_]", lambda t: [_latex_quotes(t, False)]),  # REDAUX
    _rule(f"(?P<tok>(?i:n){_APOSX}(?i:t))[\\W\\d_]", lambda t: [_latex_quotes(t, False)]),  # SREDAUX
    _rule(r"\d{1,2}[-/]\d{1,2}[-/]\d{2,4}"),  # DATE
    _rule(_NUMBER, _no_soft_hyphens),  # NUMBER
    _rule("(?:\\d{1,4}[- \u00a0])?\\d{1,4}(?:\\\\?/|\u2044)\\d{1,4}", lambda t: [t.replace(" ", "\u00a0")]),  # FRAC
    _rule("[\u00bc\u00bd\u00be]", lambda t: [_FRACTIONS[t]]),  # FRAC2
    _rule(r"-(?:RRB|LRB|RCB|LCB|RSB|LSB)-|(?i:pro|anti)-"),  # TBSPEC
    _rule(f"{_AN}+(?:-{_L}+){{0,2}}(?:\\\\?/{_AN}+(?:-{_L}+){{0,2}}){{1,2}}"),  # THING3: and/or
    _rule(r"[A-Za-z]*\$|#"),  # DOLSIGN
    _rule("[\u00a2\u00a3\u00a4\u00a5\u0080\u20a0\u20aa\u20ac\u20b9\u060b\u0e3f\u20a4\uffe0\uffe1\uffe5\uffe6]",
          lambda t: [_CURRENCY.get(t, t)]),  # DOLSIGN2
    _rule(f"(?P<tok>{_ACRONYM}){_SPACE}+(?:{_STARTS})(?:{_SPACE}|[?!\n])",  # ACRONYM ending a sentence
          lambda t: [t[0], "."] if len(t) == 2 else [t, "."]),
    _rule(f"(?P<tok>(?i:{_ABBREVIATIONS_BEFORE_DIGIT})\\.)\\s?\\d"),  # ABBREV3 before a number
    _rule(f"(?:(?i:{_ABBREVIATIONS})|{_ABBREVIATIONS_CAPITAL}|{_ABBREVIATIONS_MIXED})\\."),  # ABBREV1, ABBREV2
    _rule(_ACRONYM),  # ACRONYM
    _rule(f"(?P<tok>{_WORD}\\.)[,;:\u3001]"),  # WORD. before , ; :
    _rule("(?P<tok>\"|&quot;|[`'\u0091\u0092\u2018\u2019]')[^\\W_$]", lambda t: [_latex_quotes(t, True)]),  # DBLQUOT
    _rule("\"|&quot;|[`'\u0091\u0092\u2018\u2019]'", lambda t: [_latex_quotes(t, False)]),
    _rule("[<>]|&lt;|&gt;", lambda t: ["<" if t in ("<", "&lt;") else ">"]),
    _rule(r"[(){}\[\]]", lambda t: [_BRACKETS[t]]),
    _rule(r"(?P<tok>[<>]?[:;=][-o*']?[()DPdpO\\{@|\[\]])[\W_]",  # SMILEY
          lambda t: [t.replace("(", "-LRB-").replace(")", "-RRB-")]),
    _rule(r"-+", _dashes),  # HYPHENS
    _rule("\\.\\.\\.+|[\u0085\u2026]|\\.[ \u00a0](?:\\.[ \u00a0])+\\.", lambda t: ["..."]),  # LDOTS, SPACEDLDOTS
    _rule(r"@+|#+|_+|\*+"),  # FNMARKS, ASTS
    _rule("[,;:\u3001]|[?!]+|[.\u00a1\u00bf]|=+|/"),  # INSENTP, PUNC
    _rule(f"{_AN}(?:{_AN}|[.,\u00ad])*(?:-(?:(?:{_AN}|\u00ad)+(?:\\.\\d+)?|[A-Za-z](?:\\.[A-Za-z])+\\.))+",  # HTHING
          _no_soft_hyphens),
    _rule(f"(?:[dDoOlL]{_APOSX}{_AN})?(?:\\d+(?:[.:,]\\d+)*(?!{_AN})|{_AN}+)"  # THING: 3-year-old, o'clock
          f"(?:[-_\u058a\u2010\u2011](?:[dDoOlL]{_APOSX}{_AN})?(?:{_NUM}(?!{_AN})|{_AN}+))*",
          lambda t: [_latex_quotes(t, False)]),
    _rule(r"[A-Z]+(?:(?:[+&]|&amp;)[A-Z]+)+", lambda t: [t.replace("&amp;", "&")]),  # THINGA: AT&T
    _rule(f"(?P<tok>(?:{_APOS}|[{_QUOTE_CHARS}]{{1,2}}))(?:{_L}[^ \\t\\u00a0\\u2000-\\u200a\\u3000\\n]|[AaIiUu]\\s)",
          lambda t: [_latex_quotes(t, True)]),  # QUOTES opening a word
    _rule(f"{_APOS}|[{_QUOTE_CHARS}]{{1,2}}", lambda t: [_latex_quotes(t, False)]),  # QUOTES
    _rule(f"{_APOS}(?i:[msd]|re|ve|ll)", lambda t: [_latex_quotes(t, False)]),  # REDAUX at the very end
    _rule(f"(?i:n){_APOSX}(?i:t)", lambda t: [_latex_quotes(t, False)]),  # SREDAUX at the very end
    # MISCSYMBOL
    _rule("[+%&~^|\\\\\u00a6\u00a7\u00a8\u00a9\u00ac\u00ae\u00af\u00b0-\u00b3\u00b4-\u00ba\u00d7\u00f7\u2016\u2017"
          "\u2020-\u2025\u2030-\u2038\u203b\u203c\u2043\u203e-\u2042\u2044\u207a-\u207f\u2100-\u214f\u2190-\u21ff"
          "\u2200-\u2bff\u3001-\u3006\u3008-\u3020\u30fb\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]"),
)

_SPACES = re.compile("[ \t\u00a0\u2000-\u200b\u200e\u200f\u3000\ufeff\x00\x7f]+")


def _scan(text: str) -> Iterator[Optional[str]]:
    """The lexer's tokens of `text` (lines joined by "\\n"), before lower-casing and the punctuation filter;
    None at each line end. Rules see across line ends, as the jar does when it reads the whole file."""
    text = text + "\n"  # the rules' trailing contexts accept a line end; the jar's input has one but for its last line
    position, end = 0, len(text)
    while position < end:
        if text[position] == "\n":
            yield None
            position += 1
            continue
        spaces = _SPACES.match(text, position)
        if spaces:
            position = spaces.end()
            continue
        best, best_length = None, 0
        for rule in _RULES:
            match = rule.pattern.match(text, position)
            if match and match.end() - position > best_length:
                best, best_length = (rule, match), match.end() - position
        if best is None:  # untokenizable (emoji, control characters): the jar deletes it
            position += 1
            continue
        rule, match = best
        token = match.group("tok")
        if rule.keep:
            token = token[:-rule.keep]
        yield from rule.make(token) if rule.make else [token]
        position += len(token)


def ptb_tokenize_lines(captions: Sequence[str]) -> list[list[str]]:
    """The tokens pycocoevalcap's PTBTokenizer keeps for each caption (lower-case, punctuation dropped), reading
    the captions as the jar reads them: one line each, in this order."""
    lines: list[list[str]] = [[]]
    for token in _scan("\n".join(LINE_BREAKS.sub(" ", caption) for caption in captions)):
        if token is None:
            lines.append([])
        elif (lowered := token.lower()) not in DROPPED:
            lines[-1].append(lowered)
    return lines[:len(captions)]


def ptb_tokens(caption: str) -> list[str]:
    """The tokens pycocoevalcap's PTBTokenizer keeps for one caption on its own."""
    return ptb_tokenize_lines([caption])[0]
