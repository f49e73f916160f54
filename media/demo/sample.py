import os


def count_words(path):
    """Return a dict mapping each word in the file to its count."""
    counts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            <CURSOR>
    return counts


def main():
    for name in sorted(os.listdir(".")):
        if name.endswith(".txt"):
            print(name, count_words(name))
