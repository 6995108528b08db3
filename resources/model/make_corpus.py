#!/usr/bin/env python3
"""Write the training corpus of kvscope's default model: short English stories from a grammar.

Standard library only, deterministic from --seed. Every story has a small cast of named
characters who come back again and again (so an attention head can learn to copy a name from
where it was first introduced), places, objects, a simple plot, dialogue in quotes and numbers.
Stories are separated by <|endoftext|>.

    python3 make_corpus.py --seed 1 --chars 5500000 --out corpus.txt
"""

import argparse
import random

REAL_NAMES = """Anna Ben Clara Daniel Ella Felix Grace Henry Iris Jack Lily Leo Mia Noah Olivia Oscar
Peter Quinn Rosa Sam Tara Tom Uma Victor Wendy Max Zoe Adam Bella Carl Dora Emil Fiona George
Hannah Ivan Julia Kevin Laura Mark Nina Owen Paula Rita Simon Tina Walter Alice Bruno Chloe David
Emma Frank Hugo Ida Jonas Kate Liam Marta Nora Pablo Ruby Sara Theo Vera Will Amy Bob Cora Eva
Finn Gus Holly Isla Joe Kim Lucy Mila Ned Otto Pia Ray Sofia Ted Una Vince Yara Zack""".split()

SYLLABLES_A = "ba be bo ka ke ko la le lo ma me mo na ne no ra re ro sa se so ta te to va ve vo da de do fi li mi ri ti".split()
SYLLABLES_B = "n l r s th m ck x nd rt ll ss".split()

ANIMALS = """fox rabbit bear owl cat dog mouse duck goat horse frog deer wolf hedgehog squirrel
badger crow swan turtle pig sheep cow lamb otter beaver""".split()
JOBS = """baker farmer fisherman teacher painter doctor sailor tailor gardener miller carpenter
shepherd potter singer writer builder cook merchant knight queen king princess prince
librarian clockmaker""".split()
ADJECTIVES = """little old young brave kind clever shy quiet happy sleepy curious gentle proud
tall small busy lazy friendly grumpy cheerful careful wise silly honest""".split()
COLOURS = "red blue green yellow white black brown golden silver purple orange grey".split()
PLACES = """the village|the forest|the river|the old mill|the market|the castle|the garden|the
harbour|the hill|the bakery|the school|the farm|the bridge|the lake|the meadow|the cave|the
library|the tower|the beach|the orchard|the station|the park|the valley|the island|the
lighthouse|the kitchen|the barn|the square|the well|the woods""".replace("\n", " ").split("|")
OBJECTS = """key|lantern|basket|kite|book|map|hat|ball|ring|cake|boat|coin|letter|drum|flute|
box|apple|scarf|shoe|clock|cup|spoon|rope|bell|feather|stone|shell|candle|blanket|umbrella|
bicycle|ladder|bucket|paintbrush|necklace|compass|violin|teapot|pillow|wagon""".replace("\n", "").split("|")
FOODS = "bread soup apples pie cheese honey cookies carrots berries fish cake porridge".split()
WEATHER = ["the sun was shining", "it was raining softly", "the wind was strong",
           "snow was falling", "the sky was grey", "it was warm and bright", "fog covered the hills"]
TIMES = ["One morning", "One evening", "Long ago", "Once upon a time", "On a cold winter day",
         "On a sunny afternoon", "Early one spring", "Late at night", "One summer", "On a Monday"]
FEELINGS = "happy sad worried excited scared surprised angry tired proud glad".split()
SEARCH_VERBS = ["looked under", "searched behind", "checked inside", "looked near", "ran around"]
NUMBER_WORDS = "two three four five six seven eight nine ten twelve".split()


def a_or_an(word):
    return ("an " if word[0] in "aeiou" else "a ") + word


def plural(word):
    if word.endswith(("s", "sh", "ch", "x")):
        return word + "es"
    return word + "s"


class Story:
    def __init__(self, rng, names):
        self.rng = rng
        cast = rng.sample(names, rng.randint(2, 4))
        self.cast = [self.make_character(n) for n in cast]
        self.place = rng.choice(PLACES)
        self.home = rng.choice([p for p in PLACES if p != self.place])
        self.object = rng.choice(OBJECTS)
        self.colour = rng.choice(COLOURS)
        self.lines = []

    def make_character(self, name):
        r = self.rng
        kind = r.choice([r.choice(ANIMALS), r.choice(JOBS)])
        pronoun = r.choice(["he", "she"])
        return {"name": name, "kind": kind, "adj": r.choice(ADJECTIVES), "he": pronoun,
                "his": "his" if pronoun == "he" else "her"}

    def say(self, who, text, verb=None):
        verb = verb or self.rng.choice(["said", "asked" if text.endswith("?") else "said",
                                        "whispered", "shouted", "replied", "laughed"])
        if self.rng.random() < 0.5:
            return f'"{text}" {verb} {who["name"]}.'
        return f'{who["name"]} {verb}, "{text}"'

    def intro(self):
        r, a = self.rng, self.cast[0]
        s = [f'{r.choice(TIMES)}, there was {a_or_an(a["adj"])} {a["kind"]} called {a["name"]}.',
             f'{a["name"]} lived near {self.home} with a {self.colour} {self.object}.',
             f'Every day {a["name"]} carried the {self.object} to {self.place}.']
        if r.random() < 0.6:
            s.append(f'{a["name"]} had {r.choice(NUMBER_WORDS)} friends, but the best friend of all was {self.cast[1]["name"]}.')
        return s

    def meet(self, a, b):
        r = self.rng
        s = [f'At {r.choice(PLACES)}, {a["name"]} met {b["name"]}, {a_or_an(b["adj"])} {b["kind"]}.',
             self.say(a, f'Hello, {b["name"]}! How are you today?'),
             self.say(b, f'I am {r.choice(FEELINGS)}, {a["name"]}. The {r.choice(["weather", "market", "river", "road"])} is {r.choice(["busy", "quiet", "long", "cold", "lovely"])} today.')]
        return s

    def problem(self):
        r, a = self.rng, self.cast[0]
        s = [f'But then {a["name"]} could not find the {self.colour} {self.object}.',
             self.say(a, f'Where is my {self.object}? I had it this morning!'),
             f'{a["name"]} felt {r.choice(["sad", "worried", "scared"])}.']
        return s

    def search(self):
        r = self.rng
        who = r.choice(self.cast)
        place = r.choice(PLACES)
        s = [f'{who["name"]} {r.choice(SEARCH_VERBS)} {place}.']
        n = r.randint(2, 12)
        thing = r.choice(OBJECTS)
        if thing != self.object:
            s.append(f'There were {n} {plural(thing)} there, but no {self.object}.')
        s.append(self.say(who, f'It is not at {place}. Let us look somewhere else.'))
        return s

    def helper(self, b):
        r, a = self.rng, self.cast[0]
        return [f'{b["name"]} wanted to help {a["name"]}.',
                self.say(b, f'Do not worry, {a["name"]}. We will find it together.'),
                f'So {a["name"]} and {b["name"]} walked to {r.choice(PLACES)}, and {b["he"]} told {a["name"]} a story about {a_or_an(r.choice(ADJECTIVES))} {r.choice(ANIMALS)}.']

    def small_scene(self):
        r = self.rng
        a, b = r.sample(self.cast, 2)
        choice = r.random()
        if choice < 0.3:
            food = r.choice(FOODS)
            n = r.randint(2, 20)
            return [f'{a["name"]} and {b["name"]} stopped to eat {food}.',
                    f'{b["name"]} had {n} pieces and gave {r.randint(1, n)} of them to {a["name"]}.',
                    self.say(a, f'Thank you, {b["name"]}. You are very kind.')]
        if choice < 0.55:
            return [f'Outside, {r.choice(WEATHER)}.',
                    self.say(b, f'{a["name"]}, should we go home?'),
                    self.say(a, f'Not yet, {b["name"]}. The {self.object} must be somewhere.')]
        if choice < 0.8:
            n = r.randint(3, 99)
            return [f'On the way they counted {n} {r.choice(["birds", "trees", "boats", "stars", "houses", "stones"])}.',
                    f'{a["name"]} said the number out loud: {n}.',
                    f'{b["name"]} laughed and said it was {r.choice(["more", "less"])} than yesterday.']
        c = r.choice(self.cast)
        return [f'{c["name"]} remembered something.',
                self.say(c, f'Yesterday I saw the {self.object} near {self.home}!'),
                f'Everyone looked at {c["name"]}.']

    def resolution(self):
        r, a = self.rng, self.cast[0]
        finder = r.choice(self.cast)
        s = [f'At last {finder["name"]} found the {self.colour} {self.object} {r.choice(["under a bench", "behind a door", "in the grass", "next to a tree", "inside a box", "on a high shelf"])} at {r.choice(PLACES)}.']
        if finder is a:
            s.append(self.say(a, f'Here it is! My {self.object}!'))
        else:
            s.append(self.say(finder, f'{a["name"]}, look! I found your {self.object}!'))
            s.append(self.say(a, f'Thank you, {finder["name"]}! You are the best friend.'))
        s.append(f'{a["name"]} was {r.choice(["happy", "glad", "so happy", "very proud"])} again.')
        return s

    def ending(self):
        r, a, b = self.rng, self.cast[0], self.cast[1]
        return [r.choice([
            f'From that day on, {a["name"]} and {b["name"]} always kept the {self.object} safe.',
            f'That night {a["name"]} went to sleep with the {self.object} close by.',
            f'And {a["name"]} never lost the {self.object} again.',
            f'{b["name"]} and {a["name"]} walked home to {self.home}, laughing all the way.'])]

    def build(self):
        r = self.rng
        paras = [self.intro()]
        for b in self.cast[1:]:
            paras.append(self.meet(self.cast[0], b))
        paras.append(self.problem())
        # Some stories run long, so a name introduced early is needed again hundreds of tokens on.
        for _ in range(r.randint(1, 12) if r.random() < 0.7 else r.randint(12, 30)):
            step = r.random()
            if step < 0.4:
                paras.append(self.search())
            elif step < 0.6 and len(self.cast) > 1:
                paras.append(self.helper(r.choice(self.cast[1:])))
            else:
                paras.append(self.small_scene())
        paras.append(self.resolution())
        paras.append(self.ending())
        return "\n\n".join(" ".join(p) for p in paras)


def invented_names(rng, count):
    names = set()
    while len(names) < count:
        n = "".join(rng.choice(SYLLABLES_A) for _ in range(rng.randint(1, 2))) + rng.choice(SYLLABLES_B + [""])
        if 3 <= len(n) <= 8:
            names.add(n.capitalize())
    return sorted(names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--chars", type=int, default=5_500_000, help="stop after this many characters")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    names = sorted(set(REAL_NAMES)) + invented_names(rng, 300)
    total, stories = 0, []
    while total < args.chars:
        text = Story(rng, names).build()
        stories.append(text)
        total += len(text) + len("<|endoftext|>")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("<|endoftext|>".join(stories))
    print(f"{len(stories)} stories, {total} characters -> {args.out}")


if __name__ == "__main__":
    main()
