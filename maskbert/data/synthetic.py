"""Small synthetic tasks, generated deterministically from a seed, for the demo and end-to-end tests.

synth-tweets is a second sentiment task in another register (short posts with emoticons and hashtags) that
shares no content word with synth-sentiment, so the demo's Table 3 can test transfer between domains as
the paper does between SST-2 and SEM. All of them have real signal a pretrained model learns in a minute on CPU, plus a minority of cases a
bag of words cannot solve (negation and "X but Y" for sentiment; names that are people in one sentence
and places in another, "apple" the company or the fruit, for NER), so they are not trivially 100%.
"""

from __future__ import annotations

import random

SIZES = {"train": 600, "dev": 200, "test": 200}
MAX_WORDS = 16

NOUNS = (
    "movie",
    "film",
    "book",
    "meal",
    "hotel",
    "concert",
    "phone",
    "game",
    "show",
    "album",
    "restaurant",
    "trip",
    "class",
    "car",
    "laptop",
    "story",
    "service",
    "coffee",
    "museum",
    "play",
)
POSITIVE = (
    "great",
    "wonderful",
    "excellent",
    "delightful",
    "brilliant",
    "superb",
    "lovely",
    "fantastic",
    "charming",
    "enjoyable",
    "impressive",
    "pleasant",
    "amazing",
    "fun",
    "beautiful",
    "touching",
)
NEGATIVE = (
    "terrible",
    "awful",
    "boring",
    "dreadful",
    "horrible",
    "disappointing",
    "dull",
    "bad",
    "poor",
    "annoying",
    "painful",
    "mediocre",
    "messy",
    "tedious",
    "ugly",
    "bland",
)
INTENSIFIERS = ("", "", "really", "very", "quite", "truly", "rather", "so", "incredibly")
ENDINGS = (".", "overall .", "to be honest .", "last weekend .", "!", "in my opinion .")
# {n}: noun, {i}: intensifier, {a}: the adjective whose polarity is the label
PLAIN = (
    "the {n} was {i} {a}",
    "i thought the {n} was {i} {a}",
    "this {n} is {i} {a}",
    "my friends found the {n} {i} {a}",
    "what a {i} {a} {n}",
    "honestly , the {n} felt {i} {a}",
    "everyone agreed the {n} was {i} {a}",
)
# the adjective's polarity is flipped
NEGATED = (
    "the {n} was not {i} {a}",
    "this {n} is never {a}",
    "i would not call the {n} {a}",
    "the {n} was far from {a}",
    "nobody found the {n} {a}",
    "the {n} was not {a} at all",
)
# {b}: an adjective of the opposite polarity; the clause after "but" decides
CONTRAST = (
    "the {n} looked {b} , but it was actually {a}",
    "the {n} started {b} but ended {a}",
    "i expected a {b} {n} , but it was {i} {a}",
)
MIX = (("plain", 0.65), ("negated", 0.2), ("contrast", 0.15))

# synth-tweets: none of these words occurs in the synth-sentiment lists above (a test checks this).
TWEET_TOPICS = (
    "monday",
    "traffic",
    "pizza",
    "weekend",
    "update",
    "coach",
    "flight",
    "gym",
    "playlist",
    "barista",
    "commute",
    "sneakers",
    "podcast",
    "wifi",
    "burger",
    "exam",
    "beach",
    "roommate",
)
TWEET_POSITIVE = (
    "awesome",
    "cool",
    "sweet",
    "stoked",
    "happy",
    "glad",
    "thrilled",
    "epic",
    "perfect",
    "blessed",
    "grateful",
    "hyped",
)
TWEET_NEGATIVE = (
    "sucks",
    "meh",
    "lame",
    "gross",
    "sad",
    "angry",
    "upset",
    "crappy",
    "broken",
    "furious",
    "exhausted",
    "miserable",
)
TWEET_POSITIVE_TAGS = (":)", ":D", "<3", "#winning", "#love", "lol")
TWEET_NEGATIVE_TAGS = (":(", ":/", "#fail", "#ugh", "smh", "#worst")
TWEET_OPENERS = ("", "", "omg", "ok so", "ngl", "tbh", "wow", "just saying")
# {o}: opener, {t}: topic, {a}: the word whose polarity is the label, {e}: an emoticon or hashtag
TWEET_PLAIN = (
    "{o} my {t} is {a} {e}",
    "{o} this {t} {a} {e}",
    "{o} feeling {a} about the {t} {e}",
    "{o} the {t} today = {a} {e}",
    "{o} {a} {t} {e}",
    "{o} that {t} tho {a} {e}",
)
# the word's polarity is flipped
TWEET_NEGATED = ("{o} my {t} is not {a} {e}", "{o} the {t} ain't {a} {e}", "{o} not {a} about the {t} {e}")
TWEET_MIX = (("plain", 0.8), ("negated", 0.2))

FIRST_NAMES = (
    "John",
    "Maria",
    "Ahmed",
    "Li",
    "Sofia",
    "Pierre",
    "Anna",
    "David",
    "Yuki",
    "Carlos",
    "Fatima",
    "Peter",
    "Elena",
    "Omar",
    "Grace",
    "Ivan",
)
LAST_NAMES = (
    "Smith",
    "Garcia",
    "Khan",
    "Chen",
    "Rossi",
    "Dubois",
    "Novak",
    "Brown",
    "Tanaka",
    "Lopez",
    "Haddad",
    "Miller",
    "Petrov",
    "Okafor",
    "Jensen",
    "Silva",
)
CITIES = (
    "Paris",
    "London",
    "Berlin",
    "Tokyo",
    "Cairo",
    "Lima",
    "Toronto",
    "Madrid",
    "Nairobi",
    "Oslo",
    "Sydney",
    "Mumbai",
    "Boston",
    "Vienna",
    "New York",
    "Buenos Aires",
    "Hong Kong",
    "Los Angeles",
    "Cape Town",
    "Rio de Janeiro",
)
COMPANIES = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Group",
    "Stark Industries",
    "Wayne Enterprises",
    "Northwind Traders",
    "Blue River Bank",
    "Apex Motors",
    "Vertex Labs",
    "Orion Airlines",
    "Summit Media",
    "Delta Foods",
    "Pioneer Energy",
    "Apple",
)
# People in one sentence, places in another: only the context tells them apart.
AMBIGUOUS = ("Jordan", "Georgia", "Florence", "Victoria", "Washington", "Chelsea")
AMBIGUOUS_RATE = 0.12
NER_TEMPLATES = (
    "{PER} flew to {LOC} on Monday .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened a new office in {LOC} .",
    "{PER} met {PER} at the {ORG} headquarters .",
    "the mayor of {LOC} praised {ORG} .",
    "{PER} said the weather in {LOC} was cold .",
    "shares of {ORG} rose after {PER} resigned .",
    "{PER} moved from {LOC} to {LOC} last year .",
    "{ORG} hired {PER} as chief executive .",
    "we visited {LOC} and {LOC} in June .",
    "{PER} bought an apple in {LOC} .",
    "according to {ORG} , {PER} will visit {LOC} .",
    "{PER} lives in {LOC} .",
    "she ate an apple while {PER} read about {ORG} .",
    "a storm hit {LOC} yesterday .",
    "the report by {ORG} surprised {PER} .",
)


def _sentiment_example(rng: random.Random) -> dict:
    positive = rng.random() < 0.5
    kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    # negation flips the adjective, so the adjective's polarity is the opposite of the label
    adjective_positive = positive if kind != "negated" else not positive
    adjective = rng.choice(POSITIVE if adjective_positive else NEGATIVE)
    other = rng.choice(NEGATIVE if adjective_positive else POSITIVE)
    template = rng.choice({"plain": PLAIN, "negated": NEGATED, "contrast": CONTRAST}[kind])
    text = template.format(n=rng.choice(NOUNS), i=rng.choice(INTENSIFIERS), a=adjective, b=other)
    text = " ".join(f"{text} {rng.choice(ENDINGS)}".split())
    return {"text": text, "label": "positive" if positive else "negative"}


def _tweet_example(rng: random.Random) -> dict:
    positive = rng.random() < 0.5
    kind = rng.choices([k for k, _ in TWEET_MIX], weights=[w for _, w in TWEET_MIX])[0]
    word_positive = positive if kind == "plain" else not positive
    word = rng.choice(TWEET_POSITIVE if word_positive else TWEET_NEGATIVE)
    # the emoticon agrees with the label most of the time, so it is a strong but imperfect cue
    tag_positive = positive if rng.random() < 0.85 else not positive
    tag = rng.choice(TWEET_POSITIVE_TAGS if tag_positive else TWEET_NEGATIVE_TAGS)
    template = rng.choice(TWEET_PLAIN if kind == "plain" else TWEET_NEGATED)
    text = " ".join(
        template.format(o=rng.choice(TWEET_OPENERS), t=rng.choice(TWEET_TOPICS), a=word, e=tag).split()
    )
    return {"text": text, "label": "positive" if positive else "negative"}


def _entity(rng: random.Random, kind: str) -> str:
    if kind in ("PER", "LOC") and rng.random() < AMBIGUOUS_RATE:
        return rng.choice(AMBIGUOUS)
    if kind == "PER":
        first = rng.choice(FIRST_NAMES)
        return first if rng.random() < 0.3 else f"{first} {rng.choice(LAST_NAMES)}"
    return rng.choice(CITIES if kind == "LOC" else COMPANIES)


def _ner_example(rng: random.Random) -> dict:
    tokens, tags = [], []
    for piece in rng.choice(NER_TEMPLATES).split():
        if piece.startswith("{") and piece.endswith("}"):
            kind = piece[1:-1]
            words = _entity(rng, kind).split()
            tokens += words
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        else:
            tokens.append(piece)
            tags.append("O")
    return {"tokens": tokens, "tags": tags}


GENERATORS = {
    "synth-sentiment": _sentiment_example,
    "synth-tweets": _tweet_example,
    "synth-ner": _ner_example,
}


def generate(task: str, seed: int, sizes: dict[str, int] | None = None) -> dict[str, list[dict]]:
    """The task's splits for `seed`; the same seed gives the same data, no sentence is in two splits."""
    make = GENERATORS[task]
    rng = random.Random(f"{task}:{seed}")
    seen: set[str] = set()
    splits: dict[str, list[dict]] = {}
    for split, size in (sizes or SIZES).items():
        examples: list[dict] = []
        while len(examples) < size:
            example = make(rng)
            key = example.get("text") or " ".join(example["tokens"])
            if key in seen or len(key.split()) > MAX_WORDS:
                continue
            seen.add(key)
            examples.append(example)
        splits[split] = examples
    return splits
