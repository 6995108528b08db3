#!/usr/bin/python3
"""Generate the training corpus for kvscope's default model: short English
stories from a small hand-written grammar.

Standard library only.  Output is a pure function of --seed and --chars: the
random source is a hand-written generator (not the random module, whose
derived methods are not promised stable across Python versions) and nothing
depends on dict or set ordering.

    /usr/bin/python3 resources/model/make_corpus.py --out corpus.txt

Design goals (see README.md next to this file):
  * every story has two to four named characters who are mentioned again and
    again, and about half of the names are invented from syllables, so the
    model can only get them right by copying from earlier in the context;
  * an object found early in the story comes back at the end, which rewards
    attention over long distances;
  * the number of episodes varies a lot, so some stories fill a 1024-token
    window while most are a few hundred tokens.
"""

import argparse
import hashlib
import sys

SEP = "<|endoftext|>"


class Rng:
    """xorshift64*: tiny, fast enough, and identical on every Python."""

    def __init__(self, seed):
        self.s = (seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF or 1

    def u64(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & 0xFFFFFFFFFFFFFFFF
        s ^= s >> 27
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & 0xFFFFFFFFFFFFFFFF

    def below(self, n):
        # The top bits are the best mixed ones; modulo bias at these sizes is
        # irrelevant for a corpus.
        return (self.u64() >> 11) % n

    def pick(self, seq):
        return seq[self.below(len(seq))]

    def chance(self, percent):
        return self.below(100) < percent

    def between(self, lo, hi):
        return lo + self.below(hi - lo + 1)

    def sample(self, seq, k):
        pool = list(seq)
        out = []
        for _ in range(k):
            out.append(pool.pop(self.below(len(pool))))
        return out


# ------------------------------------------------------------- lexicon ---

GIRL_NAMES = """Lily Mia Emma Anna Sara Lucy Ella Maya Zoe Ruby Ava Nora Ivy Rosa
Clara Hana Nina Leah Amy Grace Daisy Alice Molly Chloe Sophie Tara Jade Eva
Iris Luna Fern Hazel Poppy Wren Elsie Greta Olive Mabel Nell Tilly""".split()
BOY_NAMES = """Tom Ben Sam Max Leo Jack Tim Finn Noah Eli Owen Jake Luke Adam
Theo Oscar Hugo Felix Ravi Omar Kai Milo Toby Arlo Ned Rufus Jonah Abel Ezra
Otto Bruno Caleb Dylan Ethan Ivan Joel Karl Liam Marco Pablo""".split()
# Invented names are assembled from these; the pieces are chosen to give
# pronounceable but unfamiliar words that the tokenizer splits into several
# tokens, which is exactly what a copying head has to carry over.
ONSETS = """b br d dr f g gl h j k kl l m n p pr r s sk t tr v w z th sh ch
bl fl""".split()
VOWELS = "a e i o u a e o ai ee oo".split()
CODAS = ["", "", "", "n", "m", "l", "r", "s", "x", "nd", "rk", "lt"]
GIRL_ENDS = ["a", "ie", "elle", "ina", "ette", "ara", "ly"]
BOY_ENDS = ["o", "us", "an", "ek", "or", "im", "ard"]

KINDS = [  # (noun, plural) for what a character is
    ("girl", None), ("boy", None), ("rabbit", None), ("fox", None),
    ("bear", None), ("mouse", None), ("cat", None), ("dog", None),
    ("duck", None), ("owl", None), ("frog", None), ("squirrel", None),
    ("turtle", None), ("pig", None), ("goat", None), ("hedgehog", None),
    ("little dragon", None), ("robot", None), ("bird", None), ("lamb", None),
    ("puppy", None), ("kitten", None), ("farmer", None), ("baker", None),
    ("sailor", None), ("princess", None), ("prince", None), ("wizard", None),
]
HUMAN = {"girl", "boy", "farmer", "baker", "sailor", "princess", "prince", "wizard"}
TRAITS = """kind brave shy curious happy clever gentle funny busy quiet
friendly little small big silly careful proud lazy cheerful polite""".split()
FEELINGS = ["happy", "sad", "scared", "angry", "surprised", "tired", "excited",
            "worried", "proud", "lonely", "hungry", "sleepy", "glad", "calm"]
COLORS = ["red", "blue", "green", "yellow", "pink", "purple", "orange", "white",
          "black", "brown", "gold", "silver", "gray"]
SIZES = ["big", "small", "tiny", "huge", "long", "round", "soft", "shiny",
         "old", "new", "heavy", "light", "bright", "funny", "pretty", "strange"]
OBJECTS = [  # (singular, plural)
    ("ball", "balls"), ("kite", "kites"), ("hat", "hats"), ("box", "boxes"),
    ("key", "keys"), ("book", "books"), ("cup", "cups"), ("shell", "shells"),
    ("stone", "stones"), ("feather", "feathers"), ("map", "maps"),
    ("boat", "boats"), ("drum", "drums"), ("bell", "bells"), ("coin", "coins"),
    ("ribbon", "ribbons"), ("blanket", "blankets"), ("lamp", "lamps"),
    ("flower", "flowers"), ("leaf", "leaves"), ("basket", "baskets"),
    ("toy car", "toy cars"), ("doll", "dolls"), ("sock", "socks"),
    ("crayon", "crayons"), ("button", "buttons"), ("ring", "rings"),
    ("umbrella", "umbrellas"), ("scarf", "scarves"), ("bucket", "buckets"),
    ("spoon", "spoons"), ("pencil", "pencils"), ("balloon", "balloons"),
    ("star", "stars"), ("clock", "clocks"), ("jar", "jars"), ("egg", "eggs"),
    ("rope", "ropes"), ("wagon", "wagons"), ("whistle", "whistles"),
]
FOODS = [
    ("apple", "apples"), ("cookie", "cookies"), ("cake", "cakes"),
    ("carrot", "carrots"), ("pie", "pies"), ("berry", "berries"),
    ("sandwich", "sandwiches"), ("pear", "pears"), ("plum", "plums"),
    ("muffin", "muffins"), ("banana", "bananas"), ("nut", "nuts"),
    ("cherry", "cherries"), ("peach", "peaches"), ("biscuit", "biscuits"),
]
PLACES = [  # where things happen
    "park", "garden", "forest", "beach", "river", "lake", "hill", "farm",
    "meadow", "village", "market", "school", "library", "kitchen", "barn",
    "castle", "cave", "pond", "bridge", "field", "harbor", "station",
    "playground", "orchard", "mountain", "island", "zoo", "shop", "bakery",
    "museum", "attic", "yard", "woods", "valley", "town square", "tree house",
]
HOMES = ["little house", "cozy den", "nest", "burrow", "cottage", "bed",
         "room", "tent", "hut"]
SPOTS = ["under a rock", "behind a tree", "in the tall grass", "under the bed",
         "next to the door", "on a high shelf", "inside an old boot",
         "near the fence", "under a big leaf", "in a hole", "by the water",
         "on the roof", "in the mud", "under the table", "inside a box"]
ACTIVITIES = ["play tag", "fly a kite", "build a sand castle", "go fishing",
              "pick berries", "draw pictures", "sing a song", "play hide and seek",
              "bake a cake", "read a book", "go for a walk", "plant a seed",
              "race to the tree", "look for shells", "make a boat", "jump in puddles",
              "count the stars", "climb the hill", "feed the ducks", "paint a picture"]
WEATHER = ["The sun was warm and bright.", "It was a windy day.",
           "Rain was falling softly.", "The sky was gray and cold.",
           "Snow covered the ground.", "It was a hot summer day.",
           "The wind blew the leaves around.", "Big clouds moved across the sky.",
           "It was a quiet, foggy morning.", "The stars were shining."]
TIMES = ["One day", "One morning", "One afternoon", "One evening",
         "Later that day", "The next day", "After lunch", "On Monday",
         "On Saturday", "That night", "Early in the morning", "In the spring",
         "In the winter", "Soon after", "A week later"]
SOUNDS = ["a loud bang", "a soft cry", "a funny noise", "a little song",
          "a splash", "a knock", "a buzz", "a quiet squeak", "a big roar"]
HELPERS = ["a long stick", "a ladder", "a rope", "a net", "a spoon", "a map",
           "a bucket", "a lamp"]
MORALS = ["friends help each other", "it is good to share",
          "being brave is not the same as not being scared",
          "it is fine to ask for help", "kind words make people happy",
          "you should always tell the truth", "patience is important",
          "every problem has a way out", "it is fun to try new things",
          "small things can make a big difference"]
SAID = ["said", "asked", "cried", "shouted", "whispered", "called", "laughed",
        "replied", "answered"]
GREETINGS = ["Hello", "Hi", "Good morning", "Hey", "Look"]
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven",
                "eight", "nine", "ten", "eleven", "twelve"]


# ---------------------------------------------------------- characters ---

class Character:
    def __init__(self, name, kind, female, trait):
        self.name = name
        self.kind = kind
        self.female = female
        self.trait = trait

    @property
    def he(self):
        return "she" if self.female else "he"

    @property
    def him(self):
        return "her" if self.female else "him"

    @property
    def his(self):
        return "her" if self.female else "his"


def invented_name(rng, female):
    parts = [rng.pick(ONSETS) + rng.pick(VOWELS) + rng.pick(CODAS)]
    if rng.chance(40):
        parts.append(rng.pick(ONSETS) + rng.pick(VOWELS))
    parts.append(rng.pick(GIRL_ENDS if female else BOY_ENDS))
    name = "".join(parts)
    return name[0].upper() + name[1:]


def invented_pool(size):
    """`size` distinct invented names per sex, from their own generator, so the
    pool is the same whatever the corpus seed.  A finite pool lets the
    tokenizer give every name a single token (the models trained on the
    unbounded names looped inside their fragments)."""
    rng = Rng(20261202)
    pool = {True: [], False: []}
    for female in (True, False):
        seen = set(GIRL_NAMES + BOY_NAMES)
        while len(pool[female]) < size:
            name = invented_name(rng, female)
            if name not in seen:
                seen.add(name)
                pool[female].append(name)
    return pool


INVENTED_POOL = None  # set by generate(): None means every invented name is new
NO_REPEATS = False  # set by generate(): see Story.pick


def make_character(rng, used):
    while True:
        female = rng.chance(50)
        if rng.chance(50):
            if INVENTED_POOL is None:
                name = invented_name(rng, female)
            else:
                name = rng.pick(INVENTED_POOL[female])
        else:
            name = rng.pick(GIRL_NAMES if female else BOY_NAMES)
        if name not in used:
            break
    used.add(name)
    kind = rng.pick(KINDS)[0]
    if kind == "girl":
        female = True
    elif kind in ("boy", "prince"):
        female = False
    elif kind == "princess":
        female = True
    return Character(name, kind, female, rng.pick(TRAITS))


def odd_opening(rng):
    """Text that is not how the grammar opens a story, for a model to learn that after anything
    at all a story can begin: a bare capitalised word, a name it never saw (invented afresh, so
    it comes in pieces), a short question, a fragment or a line of counting. The training stream
    puts a few stories after one of these (train.py --odd-openings)."""
    kind = rng.below(6)
    if kind == 0:
        words = [k[0] for k in KINDS] + [o[0] for o in OBJECTS] + [f[0] for f in FOODS] + PLACES
        return cap(rng.pick(words))
    if kind == 1:
        return invented_name(rng, rng.chance(50)) + rng.pick(["", "", " was here.", "!"])
    if kind == 2:
        return rng.pick(["Why was the %s %s?", "Where did the %s go?", "What is your %s?",
                         "Who saw the %s?"]).replace("%s", rng.pick([k[0] for k in KINDS]), 1) \
            .replace("%s", rng.pick(FEELINGS))
    if kind == 3:
        return "The " + rng.pick(["", "little ", "old ", "big "]) + rng.pick([k[0] for k in KINDS])
    if kind == 4:
        n = rng.between(2, 5)
        return "%s counted %s: %s" % (rng.pick(GIRL_NAMES + BOY_NAMES), rng.pick(
            ["the stars", "his toys", "her shells", "the apples"]),
            ", ".join(str(i) for i in range(1, n + 1)))
    return rng.pick(["The end.", "Hello!", "Yes.", "No, thank you.", "It was late."])


def a_an(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def cap(s):
    return s[0].upper() + s[1:]


def number_phrase(rng, n):
    # Mixing digits and words gives the numbers in the corpus both spellings.
    return str(n) if rng.chance(50) or n > 12 else NUMBER_WORDS[n]


# ------------------------------------------------------------- episodes ---

class Story:
    def __init__(self, rng):
        self.rng = rng
        used = set()
        self.cast = [make_character(rng, used) for _ in range(rng.between(2, 3))]
        self.used = used
        self.obj = rng.pick(OBJECTS)
        self.obj_adj = rng.pick(COLORS if rng.chance(50) else SIZES)
        self.home = rng.pick(PLACES)
        self.lines = []
        self.seen = {}  # per word list: the items this story has used (NO_REPEATS)

    def pick(self, seq):
        """An item of seq; with NO_REPEATS one this story has not used yet while any is left,
        so a story never visits the same place twice and greedy decoding has something new to
        say in every episode."""
        if not NO_REPEATS:
            return self.rng.pick(seq)
        return self.sample(seq, 1)[0]

    def sample(self, seq, k):
        if not NO_REPEATS:
            return self.rng.sample(seq, k)
        key = tuple(seq)
        used = self.seen.setdefault(key, set())
        fresh = [x for x in seq if x not in used]
        if len(fresh) < k:
            used.clear()
            fresh = list(seq)
        out = self.rng.sample(fresh, k)
        used.update(out)
        return out

    def say(self, text):
        self.lines.append(text)

    def two(self):
        a, b = self.rng.sample(self.cast, 2)
        return a, b

    def thing(self):
        return "the %s %s" % (self.obj_adj, self.obj[0])

    def opening(self):
        r, a, b = self.rng, self.cast[0], self.cast[1]
        form = r.below(4)
        if form == 0:
            self.say("Once upon a time, there was %s %s named %s." % (a_an(a.trait), a.kind, a.name))
        elif form == 1:
            self.say("%s was %s %s who lived near the %s." % (a.name, a_an(a.trait), a.kind, self.home))
        elif form == 2:
            self.say("There once was %s named %s. %s was very %s." % (a_an(a.kind), a.name, cap(a.he), a.trait))
        else:
            self.say("In a small village by the %s, there lived %s %s called %s." % (
                self.pick(["river", "sea", "forest", "hills", "lake"]), a_an(a.trait), a.kind, a.name))
        self.say("%s had a friend named %s. %s was %s %s." % (
            a.name, b.name, b.name, a_an(b.trait), b.kind))
        if r.chance(50):
            self.say("%s and %s liked to %s together." % (a.name, b.name, self.pick(ACTIVITIES)))
        if len(self.cast) > 2:
            c = self.cast[2]
            self.say("%s also knew %s, %s %s who was always %s." % (
                a.name, c.name, a_an(c.trait), c.kind, self.pick(FEELINGS)))

    def find_object(self):
        r, a = self.rng, self.cast[0]
        self.say("%s, %s went to the %s. %s" % (self.pick(TIMES), a.name, self.pick(PLACES), self.pick(WEATHER)))
        self.say("There, %s saw %s %s %s." % (
            a.name, a_an(self.obj_adj), self.obj[0], self.pick(SPOTS)))
        self.say("\"What a %s %s!\" %s said. %s picked it up and took it home." % (
            self.pick(["nice", "lovely", "strange", "wonderful", "funny", "pretty"]),
            self.obj[0], a.name, cap(a.he)))

    def play(self):
        r = self.rng
        a, b = self.two()
        act = self.pick(ACTIVITIES)
        self.say("\"%s, %s!\" %s %s. \"Do you want to %s with me?\"" % (
            self.pick(GREETINGS), b.name, a.name, self.pick(SAID), act))
        if r.chance(75):
            self.say("\"Yes, %s!\" said %s. \"Let's go to the %s.\"" % (a.name, b.name, self.pick(PLACES)))
            self.say("So %s and %s went there together. They had a lot of fun, and %s felt %s." % (
                a.name, b.name, b.name, self.pick(["happy", "glad", "excited", "proud"])))
        else:
            self.say("\"Not today, %s,\" said %s. \"I am too %s.\"" % (a.name, b.name, self.pick(FEELINGS)))
            self.say("%s was a little %s, but %s understood. %s went home alone." % (
                a.name, self.pick(["sad", "lonely", "quiet"]), a.he, cap(a.he)))

    def count(self):
        r = self.rng
        a, b = self.two()
        food = self.pick(FOODS)
        n = r.between(2, 30)
        k = r.between(1, min(n - 1, 9))
        self.say("At the %s, %s found a basket with %s %s in it." % (
            self.pick(PLACES), a.name, number_phrase(r, n), food[1]))
        self.say("\"Let's count them,\" said %s. %s counted slowly: %s." % (
            b.name, a.name, ", ".join(str(i) for i in range(1, min(n, 6) + 1)) + (" and more" if n > 6 else "")))
        self.say("\"There are %d %s!\" %s said." % (n, food[1], a.name))
        self.say("%s gave %s %s %s. Now %s had %d %s left." % (
            a.name, b.name, number_phrase(r, k), food[1] if k > 1 else food[0],
            a.name, n - k, food[1] if n - k > 1 else food[0]))

    def problem(self):
        r = self.rng
        a, b = self.two()
        trouble = r.below(3)
        if trouble == 0:
            self.say("%s, %s could not find %s. %s looked everywhere, but it was gone." % (
                self.pick(TIMES), a.name, self.thing(), cap(a.he)))
            self.say("%s felt %s. %s came to help. \"Don't worry, %s,\" said %s. \"We will find it.\"" % (
                a.name, self.pick(["sad", "worried", "upset"]), b.name, a.name, b.name))
            p1, p2 = self.sample(PLACES, 2)
            self.say("They looked in the %s and at the %s. At last, %s found it %s." % (
                p1, p2, b.name, self.pick(SPOTS)))
            self.say("\"Thank you, %s!\" said %s, and %s hugged %s friend." % (b.name, a.name, a.he, a.his))
        elif trouble == 1:
            self.say("Then %s heard %s from the %s. \"What was that?\" asked %s." % (
                a.name, self.pick(SOUNDS), self.pick(PLACES), b.name))
            self.say("%s was %s, but %s went to look. It was only %s %s." % (
                a.name, self.pick(["scared", "a bit afraid", "nervous"]), a.he,
                a_an(self.pick(TRAITS)), self.pick(KINDS)[0]))
            self.say("%s and %s laughed. \"You were very brave, %s,\" said %s." % (
                a.name, b.name, a.name, b.name))
        else:
            self.say("%s wanted to reach %s %s, but it was too high." % (
                a.name, a_an(self.pick(COLORS)), self.pick(OBJECTS)[0]))
            self.say("\"Can you help me, %s?\" %s asked. %s thought for a moment." % (b.name, a.name, b.name))
            self.say("Then %s brought %s, and together they got it down. %s said, \"We did it!\"" % (
                b.name, self.pick(HELPERS), a.name))

    def newcomer(self):
        r = self.rng
        if len(self.cast) >= 4:
            return self.play()
        c = make_character(r, self.used)
        a = self.pick(self.cast)
        self.say("Then %s %s came by. %s name was %s." % (
            a_an(c.trait), c.kind, cap(c.his), c.name))
        self.say("\"Hello, I am %s,\" said %s. \"Can I play with you?\"" % (c.name, c.name))
        self.say("\"Of course, %s!\" said %s. \"I am %s.\"" % (c.name, a.name, a.name))
        self.say("%s smiled. From that day on, %s and %s were good friends." % (c.name, c.name, a.name))
        self.cast.append(c)

    def share(self):
        r = self.rng
        a, b = self.two()
        self.say("%s showed %s %s. \"Can I hold it?\" asked %s." % (a.name, b.name, self.thing(), b.name))
        if r.chance(70):
            self.say("\"Yes,\" said %s. \"We can share it.\" %s held %s carefully and gave it back." % (
                a.name, b.name, self.thing()))
        else:
            self.say("\"No, it is mine!\" said %s. %s looked %s and walked away." % (
                a.name, b.name, self.pick(["sad", "hurt", "lonely"])))
            self.say("Later, %s felt bad. %s went to find %s and said, \"I am sorry, %s. You can hold it.\"" % (
                a.name, cap(a.he), b.name, b.name))
            self.say("%s smiled, and the two friends were happy again." % b.name)

    def trip(self):
        r = self.rng
        a, b = self.two()
        p1, p2, p3 = self.sample(PLACES, 3)
        self.say("%s, %s and %s went on a trip. First they walked to the %s, then to the %s." % (
            self.pick(TIMES), a.name, b.name, p1, p2))
        self.say("%s It took %s hours to reach the %s." % (self.pick(WEATHER), number_phrase(r, r.between(2, 9)), p3))
        self.say("At the %s, %s saw %s %s %s. \"Look, %s!\" said %s." % (
            p3, b.name, number_phrase(r, r.between(2, 12)), self.pick(COLORS), self.pick(OBJECTS)[1], a.name, b.name))
        self.say("%s was %s. \"I have never seen so many!\" %s said." % (a.name, self.pick(["amazed", "surprised", "happy"]), a.he))

    def meal(self):
        r = self.rng
        a, b = self.two()
        f1, f2 = self.sample(FOODS, 2)
        self.say("%s was hungry, so %s made %s for %s and %s." % (
            a.name, a.he, a_an(f1[0] + " " + self.pick(["pie", "soup", "salad", "cake"])), a.him, b.name))
        self.say("\"This is very good, %s,\" said %s. \"Can I have some %s too?\"" % (a.name, b.name, f2[1]))
        self.say("%s gave %s %s %s, and they ate until they were full." % (
            a.name, b.name, number_phrase(r, r.between(2, 9)), f2[1]))

    def ending(self):
        r, a = self.rng, self.cast[0]
        b = self.cast[1]
        form = r.below(3)
        if form == 0:
            self.say("That night, %s went to sleep in %s %s. %s dreamed about %s and about %s." % (
                a.name, a.his, self.pick(HOMES), cap(a.he), self.thing(), b.name))
        elif form == 1:
            self.say("In the end, %s put %s on a shelf so %s would never lose it again." % (
                a.name, self.thing(), a.he))
            self.say("%s learned that %s." % (a.name, self.pick(MORALS)))
        else:
            names = [c.name for c in self.cast]
            self.say("%s and %s were tired but happy. %s kept %s forever." % (
                ", ".join(names[:-1]), names[-1], a.name, self.thing()))
        if r.chance(40):
            self.say("The end.")


def story(rng):
    s = Story(rng)
    s.opening()
    s.find_object()
    # Heavy-tailed episode count: most stories are short, a few are long
    # enough to fill (and overflow) the 1024-token window.
    roll = rng.below(100)
    if roll < 55:
        n = rng.between(1, 4)
    elif roll < 85:
        n = rng.between(5, 9)
    else:
        n = rng.between(10, 22)
    episodes = [s.play, s.count, s.problem, s.newcomer, s.share, s.trip, s.meal]
    bag = []
    for _ in range(n):
        if not NO_REPEATS:
            rng.pick(episodes)()
            continue
        # Every kind of episode once before any comes again.
        if not bag:
            bag = rng.sample(episodes, len(episodes))
        bag.pop()()
    s.ending()
    # Paragraphs of two to four sentences, so newlines carry some meaning.
    out, para = [], []
    for line in s.lines:
        para.append(line)
        if len(para) >= 2 and rng.chance(45):
            out.append(" ".join(para))
            para = []
    if para:
        out.append(" ".join(para))
    return "\n\n".join(out)


def generate(seed, min_chars, name_pool=0, no_repeats=False):
    global INVENTED_POOL, NO_REPEATS
    INVENTED_POOL = invented_pool(name_pool) if name_pool > 0 else None
    NO_REPEATS = no_repeats
    rng = Rng(seed)
    docs, total = [], 0
    while total < min_chars:
        d = story(rng)
        docs.append(d)
        total += len(d) + len(SEP)
    return SEP.join(docs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=1, help="generator seed")
    ap.add_argument("--chars", type=int, default=8_000_000,
                    help="stop after the first story that reaches this many characters")
    ap.add_argument("--name-pool", type=int, default=0,
                    help="draw invented names from this many per sex (0: invent each one)")
    ap.add_argument("--no-repeats", action="store_true",
                    help="each kind of episode once before any repeats; no place, activity, "
                    "food, time or sound twice in a story while others are left")
    ap.add_argument("--out", required=True, help="output UTF-8 text file")
    args = ap.parse_args()
    text = generate(args.seed, args.chars, args.name_pool, args.no_repeats)
    data = text.encode("utf-8")
    with open(args.out, "wb") as f:
        f.write(data)
    print("%d stories, %d characters, sha256 %s -> %s" % (
        text.count(SEP) + 1, len(text), hashlib.sha256(data).hexdigest(), args.out),
        file=sys.stderr)


if __name__ == "__main__":
    main()
