#!/usr/bin/env python3
"""Regenerate the third-party lexicons in config/lexicon/ from their PyPI packages.

    pip download --no-deps -d /tmp/lex vaderSentiment==3.3.2 textblob-fr==0.2.0 vaderSentiment-fr==1.3.4
    python3 tools/build_lexicons.py /tmp/lex

Writes `term<TAB>valence` files on VADER's scale (-4 .. +4), one term a line, sorted:
- en_vader.tsv  from vaderSentiment's vader_lexicon.txt (MIT, C.J. Hutto);
- fr_vader.tsv  from vaderSentiment-fr's fr_lexicon.txt (MIT, translated VADER lexicon);
- fr_pattern.tsv from textblob-fr's fr-sentiment.xml (PDDL, Tom De Smedt, Walter Daelemans),
  adjective polarity (-1 .. +1) times 3, entries with |polarity| < 0.1 dropped.
Veille's own cues (cues_fr.toml, cues_en.toml) are hand-written and not produced here.
"""
import pathlib
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile

src = pathlib.Path(sys.argv[1])
out = pathlib.Path(__file__).resolve().parent.parent / "config" / "lexicon"


def write(name, pairs, header):
    rows = sorted({t.strip().lower(): v for t, v in pairs if t.strip() and "\t" not in t}.items())
    with open(out / name, "w", encoding="utf-8") as f:
        f.write(f"# {header}\n")
        for term, val in rows:
            f.write(f"{term}\t{val:.2f}\n")
    print(name, len(rows))


with zipfile.ZipFile(next(src.glob("vaderSentiment-3.3.2*.whl"))) as z:
    text = z.read("vaderSentiment/vader_lexicon.txt").decode("utf-8")
write("en_vader.tsv",
      ((l.split("\t")[0], float(l.split("\t")[1])) for l in text.splitlines() if l.strip()),
      "VADER lexicon (vaderSentiment 3.3.2), MIT licence, (c) 2016 C.J. Hutto. See LICENSES.md.")

with tarfile.open(next(src.glob("vaderSentiment_fr-1.3.4*.tar.gz"))) as t:
    member = next(m for m in t.getmembers() if m.name.endswith("vaderSentiment_fr/fr_lexicon.txt"))
    text = t.extractfile(member).read().decode("utf-8")
write("fr_vader.tsv",
      ((l.rsplit("->", 1)[0], float(l.rsplit("->", 1)[1])) for l in text.splitlines() if "->" in l),
      "French VADER lexicon (vaderSentiment-fr 1.3.4), MIT licence. See LICENSES.md.")

with zipfile.ZipFile(next(src.glob("textblob_fr-0.2.0*.whl"))) as z:
    root = ET.fromstring(z.read("textblob_fr/fr-sentiment.xml"))
pairs = []
for w in root.iter("word"):
    p = float(w.get("polarity"))
    if abs(p) >= 0.1:
        pairs.append((w.get("form"), p * 3.0))
write("fr_pattern.tsv", pairs,
      "Pattern French adjective lexicon (textblob-fr 0.2.0 fr-sentiment.xml), PDDL, polarity x 3. See LICENSES.md.")
