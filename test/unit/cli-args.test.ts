// The CLI's strict parser over the real command tables: unknown and misspelled flags, missing values, booleans with
// values, extra positionals, and every numeric flag held to its documented range. Pure: no model, no process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  choiceFlag, commandUsage, flag, numberFlag, numbersFlag, parseCommandLine, stringFlag, suggest, UsageError,
  type CommandLine, type ParsedArgs,
} from '../../src/cli/args';
import { COMMAND_SPECS } from '../../src/cli/commands';

const parse = (...argv: string[]): CommandLine => parseCommandLine(argv, COMMAND_SPECS);

function run(...argv: string[]): ParsedArgs {
  const line = parse(...argv);
  assert.equal(line.kind, 'run');
  return line.args;
}

/** Asserts a UsageError whose one-line message matches every pattern. */
function refused(argv: readonly string[], ...patterns: RegExp[]): string {
  let message = '';
  assert.throws(() => parse(...argv), (e: unknown) => {
    assert.ok(e instanceof UsageError, `not a UsageError: ${String(e)}`);
    message = e.message;
    return true;
  });
  assert.ok(!message.includes('\n'), `not one line: ${message}`);
  for (const p of patterns) assert.match(message, p);
  return message;
}

const GEN = ['generate', '--target', 'models/target', '--prompt', 'x'];

test('a misspelled flag is refused with the closest known one; --ep takes only cpu, webgpu or auto', () => {
  refused([...GEN, '--strategey', 'simsd'], /^unknown option --strategey for generate/, /did you mean --strategy\?/);
  refused([...GEN, '--ep', 'cuda'], /^--ep must be one of cpu\|webgpu\|auto, got 'cuda'$/);
  refused(['inspect', 'models/target', '--ep', 'cpu'], /^unknown option --ep for inspect/);
  refused([...GEN, '--strategey=simsd'], /unknown option --strategey\b/, /did you mean --strategy\?/);
  refused([...GEN, '-h'], /unknown option -h/);
  refused(['inspect', 'models/target', '--out', 'x'], /unknown option --out for inspect/);
});

test('a value flag followed by a flag or at the end, and a boolean given a value, are refused', () => {
  refused(['generate', '--target', 'models/target', '--prompt', '--json'], /^--prompt needs a value, but is followed by '--json'/, /--prompt=--json/);
  refused([...GEN, '--max-tokens'], /^--max-tokens needs a value$/);
  refused([...GEN, '--json=1'], /^--json takes no value/);
  refused([...GEN, '--chat=yes'], /^--chat takes no value/);
  refused([...GEN, '--max-tokens', '4', '--max-tokens', '8'], /--max-tokens is given more than once/);
});

test('positionals: extra ones are refused, missing ones named', () => {
  refused([...GEN, 'extra'], /^unexpected argument 'extra': generate takes no positional arguments/);
  refused(['inspect', 'a', 'b'], /^unexpected argument 'b': inspect takes only DIR/);
  refused(['profile'], /^profile needs CONVERTED_DIR/);
  assert.deepEqual(run('inspect', 'models/target').positionals, ['models/target']);
  assert.deepEqual(run('inspect', '--json', '--', '-odd-folder').positionals, ['-odd-folder']);
});

test('numbers are finite, integers where integers are meant, and in their documented range', () => {
  const cases: [string[], RegExp][] = [
    [[...GEN, '--threads', 'abc'], /^--threads must be an integer in \[1, 1024\], got 'abc'$/],
    [[...GEN, '--threads', '0'], /^--threads must be an integer/],
    [[...GEN, '--max-tokens', '1e9'], /^--max-tokens must be an integer in \[1, 65536\], got '1e9'$/],
    [[...GEN, '--max-tokens', '0'], /^--max-tokens must be/],
    [[...GEN, '--max-tokens', '4.5'], /^--max-tokens must be an integer/],
    [[...GEN, '--max-tokens', ''], /^--max-tokens must be/],
    [[...GEN, '--seed', '4294967296'], /^--seed must be an integer in \[0, 4294967295\]/],
    [[...GEN, '--seed=-1'], /^--seed must be/],
    [[...GEN, '--top-k', '65'], /^--top-k must be an integer in \[1, 64\]/],
    [[...GEN, '--threshold', '1.5'], /^--threshold must be a number in \[0, 1\]/],
    [[...GEN, '--threshold', 'NaN'], /^--threshold must be a number/],
    [[...GEN, '--temperature', 'Infinity'], /^--temperature must be a number in \[0, 100\]/],
    [[...GEN, '--temperature=-0.5'], /^--temperature must be/],
    [[...GEN, '--blocks-per-verify', '9'], /^--blocks-per-verify must be an integer in \[1, 8\]/],
    [['profile', 'd', '--rows', '0'], /^--rows: '0' \(position 1\) is not an integer in \[1, 4096\]/],
    [['profile', 'd', '--rows', '4,x'], /^--rows: 'x' \(position 2\)/],
    [['profile', 'd', '--repeats', '0'], /^--repeats must be an integer in \[1, 10000\]/],
    [['profile', 'd', '--cache=-1'], /^--cache must be an integer/],
    [['convert', 'd', '--out', 'o', '--accuracy-level', '5'], /^--accuracy-level must be an integer in \[0, 4\]/],
    [['trace', '--steps', '0'], /^--steps must be an integer in \[1, 100000\]/],
    [['bench', '--max-tokens', 'lots'], /^--max-tokens must be/],
  ];
  for (const [argv, pattern] of cases) refused(argv, pattern);
  const a = run(...GEN, '--threads', '2', '--max-tokens', ' 8 ', '--threshold', '.5', '--temperature', '1e-1', '--seed', '4294967295');
  assert.deepEqual([numberFlag(a, 'threads'), numberFlag(a, 'max-tokens', 64), numberFlag(a, 'threshold', 0.9), numberFlag(a, 'temperature', 0), numberFlag(a, 'seed', 0)], [2, 8, 0.5, 0.1, 4294967295]);
  assert.equal(numberFlag(run(...GEN), 'threads'), undefined);
  assert.deepEqual(numbersFlag(run('profile', 'd', '--rows', '4, 16,64'), 'rows', [1]), [4, 16, 64]);
});

test('--prompt-ids: empty entries and non-integers are refused at parse time; the vocabulary is checked after load', () => {
  const ids = (v: string) => ['generate', '--target', 't', `--prompt-ids=${v}`];
  refused(ids(''), /^--prompt-ids has an empty entry at position 1 in ''/);
  refused(ids(','), /^--prompt-ids has an empty entry at position 1 in ','/);
  refused(ids('1,,2'), /^--prompt-ids has an empty entry at position 2 in '1,,2'/);
  refused(ids('1,'), /empty entry at position 2/);
  refused(ids('1.5'), /^--prompt-ids: '1.5' \(position 1\) is not an integer ≥ 0$/);
  refused(ids('-1'), /'-1' \(position 1\)/);
  refused(ids('0x10'), /'0x10'/);
  refused(ids('9007199254740993'), /'9007199254740993'/);
  assert.deepEqual(numbersFlag(run(...ids('1, 2,3')), 'prompt-ids'), [1, 2, 3]);
  assert.deepEqual(numbersFlag(run(...ids('4294967295')), 'prompt-ids'), [4294967295]);
});

test('choices: refused with the list and the closest name; the typed getter narrows', () => {
  refused([...GEN, '--strategy', 'simsd-exakt'], /^--strategy must be one of auto\|native\|simsd\|simsd-exact\|lookup, got 'simsd-exakt'; did you mean simsd-exact\?$/);
  refused(['convert', 'd', '--out', 'o', '--weights', 'int8'], /^--weights must be one of fp32\|int4\|fp16/);
  refused(['demo', '--strategies', 'simsd,nope'], /^--strategies must be a comma-separated list of .*, got 'nope'/);
  refused(['trace', '--layout', 'psm'], /^--layout must be one of auto\|fim\|prefix/);
  const a = run(...GEN, '--strategy=simsd');
  assert.equal(choiceFlag(a, 'strategy', ['auto', 'simsd'] as const, 'auto'), 'simsd');
});

test('paths must not be empty; text may be', () => {
  refused(['generate', '--target', '', '--prompt', 'x'], /^--target needs a non-empty DIR$/);
  assert.equal(stringFlag(run('generate', '--target', 't', '--prompt', ''), 'prompt'), '');
});

test('the valid command lines of the README parse to the same values as before', () => {
  const g = run('generate', '--target', 'models/target', '--draft', 'models/draft', '--prompt', 'def f(', '--max-tokens', '8', '--json');
  assert.deepEqual([...g.values.entries()].sort(), [['draft', 'models/draft'], ['json', true], ['max-tokens', 8], ['prompt', 'def f('], ['target', 'models/target']]);
  const b = run('bench', '--target', 'models/target', '--draft', 'models/draft', '--max-tokens', '8', '--json');
  assert.equal(b.values.get('max-tokens'), 8);
  const v = run('--verbose', 'generate', '--target=t', '--prompt=--x', '--no-fold', '--prompt-ids', '1');
  assert.ok(v.values.get('verbose') === true && v.values.get('no-fold') === true && v.values.get('target') === 't');
  run('trace', '--steps', '400', '--layout', 'fim', '--max-tokens', '24');
  run('profile', 'dir', '--cache', '512', '--rows', '4,16', '--repeats', '5', '--threads', '2');
  run('convert', 'dir', '--out', 'out', '--weights', 'fp32', '--accuracy-level', '0');
  run('demo', '--file', 'f.py', '--max-tokens', '48', '--strategies', 'simsd,native');
});

test('--help prints the command usage (rc 0), even beside a bad flag; no command prints the overview (rc 2)', () => {
  for (const name of Object.keys(COMMAND_SPECS)) {
    const line = parse(name, '--help');
    assert.ok(line.kind === 'usage' && line.exitCode === 0 && line.text.startsWith(`usage: simsd ${name}`), name);
  }
  const g = parse('generate', '--strategey', 'x', '--help');
  assert.ok(g.kind === 'usage' && g.text.includes('--strategy NAME') && g.text.includes('an integer in [1, 65536]'));
  assert.deepEqual([parse('--help').kind, (parse('--help') as { exitCode: number }).exitCode], ['usage', 0]);
  assert.deepEqual((parse() as { exitCode: number }).exitCode, 2);
  refused(['generat'], /^unknown command 'generat'; did you mean generate\?/);
  refused(['--target', 'x', 'generate'], /^unknown option --target for simsd/);
});

test("every flag of every table is in its command's synopsis and help", () => {
  for (const [name, spec] of Object.entries(COMMAND_SPECS)) {
    const help = commandUsage(spec);
    for (const f of Object.keys(spec.flags)) {
      assert.ok(new RegExp(`--${f}\\b`).test(spec.usage), `${name}: --${f} is missing from the synopsis`);
      assert.ok(help.includes(`--${f} `), `${name}: --${f} is missing from --help`);
    }
  }
});

test('a flag the command did not declare is an internal error, not a silent undefined', () => {
  const a = run(...GEN);
  assert.throws(() => numberFlag(a, 'rows'), (e: unknown) => e instanceof Error && !(e instanceof UsageError) && /--rows is not declared for 'generate' as integer\/real/.test(e.message));
  assert.throws(() => stringFlag(a, 'max-tokens'), /not declared for 'generate' as text\/path\/choice/);
});

test('adding a flag is one line in a table', () => {
  const spec = COMMAND_SPECS.generate;
  const withEp = { ...spec, flags: { ...spec.flags, ep: flag.choice(['cpu', 'webgpu'], 'execution provider') } };
  const line = parseCommandLine([...GEN, '--ep', 'webgpu'], { generate: withEp });
  assert.ok(line.kind === 'run' && choiceFlag(line.args, 'ep', ['cpu', 'webgpu'] as const, 'cpu') === 'webgpu');
});

test('suggest: small edit distance, or a unique prefix', () => {
  assert.equal(suggest('strategey', ['strategy', 'steps']), 'strategy');
  assert.equal(suggest('ep', ['threads', 'seed', 'top-k', 'json']), null);
  assert.equal(suggest('max', ['max-tokens', 'json']), 'max-tokens');
  assert.equal(suggest('thread', ['threads', 'threshold']), 'threads');
});
