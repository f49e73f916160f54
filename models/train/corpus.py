"""Build the code corpus deterministically from sources.json and write models/NOTICE.

    /usr/bin/python3 models/train/corpus.py            # -> models/train/work/corpus/{train,heldout}.jsonl

Python comes from installed Debian packages, TypeScript/JavaScript from npm tarballs (`npm pack`, run in
models/train/work/npm so nothing touches package.json). Rules: sorted walk, files of 200 B..300 KB, UTF-8 only,
minified files dropped, exact de-duplication by sha1 (first occurrence wins, in sources.json order), a byte cap
per source, and a held-out split decided by the file hash alone (so adding a source never moves a file).
"""
import hashlib
import json
import os
import subprocess
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, 'work')
LANG_BY_EXT = {'.py': 'python', '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript', '.tsx': 'typescript',
               '.js': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript', '.jsx': 'javascript'}
MIN_BYTES, MAX_BYTES = 200, 300_000
HELDOUT_PERCENT = 2


def language(path):
    return LANG_BY_EXT.get(os.path.splitext(path)[1])


def is_minified(text):
    # Minified or bundled output has very long lines; hand-written code almost never does.
    lines = text.split('\n')
    return max(len(line) for line in lines) > 1000 or len(text) / len(lines) > 200


def accept(path, data):
    """Returns the decoded text when the file qualifies, else None."""
    if '.min.' in path or not (MIN_BYTES <= len(data) <= MAX_BYTES):
        return None
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError:
        return None
    return None if is_minified(text) else text


def walk_python(src):
    root = src['root']
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        dirnames[:] = [d for d in dirnames if d not in ('__pycache__', 'site-packages', 'dist-packages')]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if language(path) == 'python' and os.path.isfile(path) and not os.path.islink(path):
                with open(path, 'rb') as f:
                    yield os.path.relpath(path, root), f.read()


def npm_tarball(spec):
    """Fetches the exact pinned version once; returns the tarball path."""
    os.makedirs(os.path.join(WORK, 'npm'), exist_ok=True)
    name, version = spec.rsplit('@', 1)
    path = os.path.join(WORK, 'npm', f"{name.lstrip('@').replace('/', '-')}-{version}.tgz")
    if not os.path.exists(path):
        subprocess.run(['npm', 'pack', spec, '--silent'], cwd=os.path.join(WORK, 'npm'), check=True,
                       stdout=subprocess.DEVNULL)
    return path


def walk_npm(src):
    with tarfile.open(npm_tarball(src['spec'])) as tar:
        members = sorted((m for m in tar.getmembers() if m.isfile()), key=lambda m: m.name)
        for m in members:
            rel = m.name.split('/', 1)[1]  # drop the tarball's top folder ("package/", "node/", ...)
            if language(rel) and any(rel.startswith(p) for p in src['include']):
                yield rel, tar.extractfile(m).read()


def main():
    with open(os.path.join(HERE, 'sources.json')) as f:
        sources = json.load(f)
    out_dir = os.path.join(WORK, 'corpus')
    os.makedirs(out_dir, exist_ok=True)
    seen = set()
    stats = {}
    outs = {split: open(os.path.join(out_dir, f'{split}.jsonl'), 'w') for split in ('train', 'heldout')}
    plan = [(s['name'], s, walk_python) for s in sources['python']] + [(s['spec'], s, walk_npm) for s in sources['npm']]
    for name, src, walk in plan:
        cap = src['cap_mb'] * 1_000_000
        st = stats[name] = {'licence': src['licence'], 'files': 0, 'bytes': 0, 'dropped': 0, 'duplicates': 0}
        for rel, data in walk(src):
            if st['bytes'] >= cap:
                break
            text = accept(rel, data)
            if text is None:
                st['dropped'] += 1
                continue
            sha1 = hashlib.sha1(data).hexdigest()
            if sha1 in seen:
                st['duplicates'] += 1
                continue
            seen.add(sha1)
            split = 'heldout' if int(sha1[:8], 16) % 100 < HELDOUT_PERCENT else 'train'
            record = {'source': name, 'path': rel, 'lang': language(rel), 'sha1': sha1, 'split': split, 'text': text}
            outs[split].write(json.dumps(record) + '\n')
            st['files'] += 1
            st['bytes'] += len(data)
            lang_st = stats.setdefault('_by_language', {}).setdefault(f"{language(rel)}/{split}", [0, 0])
            lang_st[0] += 1
            lang_st[1] += len(data)
        print(f"{name:45s} {st['files']:6d} files {st['bytes'] / 1e6:7.2f} MB", file=sys.stderr)
    for f in outs.values():
        f.close()
    with open(os.path.join(out_dir, 'stats.json'), 'w') as f:
        json.dump(stats, f, indent=1)
    write_notice(sources, stats)
    print(json.dumps(stats['_by_language']))


def write_notice(sources, stats):
    lines = ['Training corpus of the embedded draft and target models (models/draft, models/target).',
             'The weights were trained on the following permissively licensed source code. Each project keeps its',
             'copyright; the licence texts ship with the Debian packages (/usr/share/doc/<package>/copyright) and',
             'the npm tarballs (LICENSE). Built by models/train/corpus.py from models/train/sources.json.', '',
             f"{'source':45s} {'licence':28s} {'files':>6s} {'bytes':>10s}"]
    for s in sources['python']:
        st = stats[s['name']]
        lines.append(f"{s['name'] + ' (Debian ' + s['debian'] + ')':45s} {s['licence']:28s} {st['files']:6d} {st['bytes']:10d}")
    for s in sources['npm']:
        st = stats[s['spec']]
        lines.append(f"{s['spec'] + ' (npm)':45s} {s['licence']:28s} {st['files']:6d} {st['bytes']:10d}")
    lines += ['', 'The tokenizer (BPE merges) was trained on the same corpus with the npm package tokenizers (Apache-2.0).']
    with open(os.path.join(HERE, '..', 'NOTICE'), 'w') as f:
        f.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
