"""Strings that match the model's `pattern` traits (Java regular expressions).

The model uses a small subset: character classes with ranges, `\\w \\s \\S \\d \\p{L}`-style
escapes and `\\xNN`, groups with alternation, the usual quantifiers, anchors, `(?s)`, `\\b` and one
negative lookbehind. That subset is parsed here into a tree and sampled; zero-width parts are
ignored, which is close enough for producing values the server should accept.
"""

import unicodedata
from functools import lru_cache

# Candidate characters for sampling classes: mostly ASCII, plus a few letters, symbols and
# whitespace from elsewhere so `\p{L}` and friends also get non-ASCII values.
UNIVERSE = [chr(c) for c in range(0x20, 0x7F)] + list("\t\n\réüßΩжあ中€✓")
WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
SPACE = set(" \t\n\x0b\f\r")
DIGIT = set("0123456789")


def _category(prefix):
    return lambda c: unicodedata.category(c).startswith(prefix)


ESCAPE_CLASSES = {
    "w": lambda c: c in WORD,
    "W": lambda c: c not in WORD,
    "s": lambda c: c in SPACE,
    "S": lambda c: c not in SPACE,
    "d": lambda c: c in DIGIT,
    "D": lambda c: c not in DIGIT,
}
LITERAL_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}


class Parser:
    def __init__(self, pattern):
        self.p = pattern
        self.i = 0
        self.dotall = False

    def peek(self):
        return self.p[self.i] if self.i < len(self.p) else None

    def take(self):
        c = self.p[self.i]
        self.i += 1
        return c

    def parse(self):
        node = self.alternation()
        if self.i != len(self.p):
            raise ValueError(f"unparsed rest {self.p[self.i:]!r}")
        return node

    def alternation(self):
        options = [self.sequence()]
        while self.peek() == "|":
            self.take()
            options.append(self.sequence())
        return ("alt", options) if len(options) > 1 else options[0]

    def sequence(self):
        items = []
        while self.peek() not in (None, "|", ")"):
            atom = self.atom()
            if atom is None:
                continue
            items.append(self.quantified(atom))
        return ("seq", items)

    def quantified(self, atom):
        c = self.peek()
        if c == "*":
            self.take()
            return ("rep", atom, 0, None)
        if c == "+":
            self.take()
            return ("rep", atom, 1, None)
        if c == "?":
            self.take()
            return ("rep", atom, 0, 1)
        if c == "{" and self._looks_like_count():
            self.take()
            body = ""
            while self.peek() != "}":
                body += self.take()
            self.take()
            if "," in body:
                lo, hi = body.split(",", 1)
                return ("rep", atom, int(lo), int(hi) if hi else None)
            return ("rep", atom, int(body), int(body))
        return atom

    def _looks_like_count(self):
        rest = self.p[self.i + 1:]
        end = rest.find("}")
        return end > 0 and all(ch.isdigit() or ch == "," for ch in rest[:end])

    def atom(self):
        c = self.take()
        if c == "(":
            return self.group()
        if c == "[":
            return ("class", self.char_class())
        if c == "\\":
            return self.escape(in_class=False)
        if c == ".":
            return ("class", (lambda ch: True) if self.dotall else (lambda ch: ch != "\n"))
        if c in "^$":
            return None  # anchors: the whole value is generated anyway
        return ("lit", c)

    def group(self):
        if self.peek() == "?":
            self.take()
            kind = self.take()
            if kind == "s":  # (?s): dot matches newlines
                self.take()  # ")"
                self.dotall = True
                return None
            if kind == "<":  # lookbehind: zero-width, ignored
                self.take()
                self.alternation()
                self.take()
                return None
            # (?:...) non-capturing
        node = self.alternation()
        self.take()  # ")"
        return node

    def escape(self, in_class):
        c = self.take()
        if c in ESCAPE_CLASSES:
            return ("class", ESCAPE_CLASSES[c])
        if c == "p":
            self.take()  # "{"
            name = ""
            while self.peek() != "}":
                name += self.take()
            self.take()
            return ("class", _category(name[0]))
        if c == "x":
            return ("lit", chr(int(self.take() + self.take(), 16)))
        if c == "b" and not in_class:
            return None  # word boundary: zero-width
        return ("lit", LITERAL_ESCAPES.get(c, c))

    def char_class(self):
        negate = self.peek() == "^"
        if negate:
            self.take()
        tests = []
        first = True
        while True:
            c = self.take()
            if c == "]" and not first:
                break
            first = False
            if c == "\\":
                item = self.escape(in_class=True)
            else:
                item = ("lit", c)
            if item[0] == "lit" and self.peek() == "-" and self.p[self.i + 1] != "]":
                self.take()
                hi = self.take()
                if hi == "\\":
                    hi = self.escape(in_class=True)[1]
                lo = item[1]
                tests.append(lambda ch, lo=lo, hi=hi: lo <= ch <= hi)
            elif item[0] == "lit":
                tests.append(lambda ch, lit=item[1]: ch == lit)
            else:
                tests.append(item[1])
        if negate:
            return lambda ch: not any(t(ch) for t in tests)
        return lambda ch: any(t(ch) for t in tests)


@lru_cache(maxsize=None)
def compile_pattern(pattern):
    return Parser(pattern).parse()


_candidates_cache = {}


def _candidates(test):
    key = id(test)
    if key not in _candidates_cache:
        _candidates_cache[key] = [c for c in UNIVERSE if test(c)] or ["a"]
    return _candidates_cache[key]


def _sample(node, rng, stretch, out):
    kind = node[0]
    if kind == "lit":
        out.append(node[1])
    elif kind == "class":
        cands = _candidates(node[1])
        # Mostly ASCII letters and digits, as real values are; now and then anything in the class.
        plain = [c for c in cands if c.isascii() and c.isalnum()]
        out.append(rng.choice(plain if plain and rng.random() < 0.8 else cands))
    elif kind == "seq":
        for item in node[1]:
            _sample(item, rng, stretch, out)
    elif kind == "alt":
        _sample(rng.choice(node[1]), rng, stretch, out)
    elif kind == "rep":
        _, atom, lo, hi = node
        top = hi if hi is not None else lo + stretch
        for _ in range(rng.randint(lo, max(lo, top))):
            _sample(atom, rng, stretch, out)


def sample(pattern, rng, min_len=None, max_len=None):
    """A string matching `pattern` within the length bounds, or None if none was found quickly."""
    try:
        tree = compile_pattern(pattern)
    except (ValueError, IndexError):
        return None
    lo = min_len or 0
    hi = max_len if max_len is not None else 10_000
    stretch = max(4, lo + 4)
    for _ in range(30):
        out = []
        _sample(tree, rng, min(stretch, max(hi, 1)), out)
        s = "".join(out)
        if lo <= len(s) <= hi:
            return s
        if len(s) < lo:
            stretch *= 2
        else:
            stretch = max(1, stretch // 2)
    return None
