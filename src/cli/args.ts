// The CLI's argument parser: Node's util.parseArgs in strict mode over an explicit flag table per command.
// Values are checked here, where they are parsed, so an unknown or misspelled flag, a flag without its value, a
// number outside its documented range or an unexpected positional is a UsageError naming the flag before any model
// loads. Adding a flag is one line in a command's table (commands.ts).
import { parseArgs as nodeParseArgs } from 'node:util';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One flag of a command: `kind` says how its value is parsed and checked, `help` what it means. */
export type FlagSpec =
  | { readonly kind: 'boolean'; readonly help: string }
  | { readonly kind: 'text' | 'path'; readonly value: string; readonly help: string }      // path: non-empty
  | { readonly kind: 'integer' | 'real' | 'integers'; readonly value: string; readonly min: number; readonly max: number; readonly help: string }
  | { readonly kind: 'choice' | 'choices'; readonly choices: readonly string[]; readonly help: string };

export type FlagTable = Readonly<Record<string, FlagSpec>>;

/** Table entries, one line each: `'max-tokens': flag.integer('N', 1, 65536, 'tokens to generate'),`. */
export const flag = {
  boolean: (help: string): FlagSpec => ({ kind: 'boolean', help }),
  text: (value: string, help: string): FlagSpec => ({ kind: 'text', value, help }),
  path: (value: string, help: string): FlagSpec => ({ kind: 'path', value, help }),
  integer: (value: string, min: number, max: number, help: string): FlagSpec => ({ kind: 'integer', value, min, max, help }),
  real: (value: string, min: number, max: number, help: string): FlagSpec => ({ kind: 'real', value, min, max, help }),
  integers: (value: string, min: number, max: number, help: string): FlagSpec => ({ kind: 'integers', value, min, max, help }),
  choice: (choices: readonly string[], help: string): FlagSpec => ({ kind: 'choice', choices, help }),
  choices: (choices: readonly string[], help: string): FlagSpec => ({ kind: 'choices', choices, help }),
};

/** Accepted by every command, before or after the command name. */
export const GLOBAL_FLAGS: FlagTable = {
  json: flag.boolean('print one JSON object as the last stdout line; human lines go to stderr'),
  verbose: flag.boolean('print the stack trace of an error'),
  help: flag.boolean("print the command's usage"),
};

export interface CommandSpec {
  readonly usage: string;                  // the synopsis: `simsd generate --target DIR …`
  readonly positionals: readonly string[]; // names of the positional arguments, each required
  readonly flags: FlagTable;               // the command's own flags; GLOBAL_FLAGS are added
}

export type FlagValue = boolean | string | number | readonly number[] | readonly string[];

export interface ParsedArgs {
  readonly command: string;
  readonly positionals: readonly string[];
  readonly values: ReadonlyMap<string, FlagValue>; // the flags given, parsed and checked
  readonly flags: FlagTable;                       // the command's table, GLOBAL_FLAGS included
}

/** What the command line asks for: run a command, or print a usage text (exit code 0 for --help, else 2). */
export type CommandLine =
  | { readonly kind: 'run'; readonly args: ParsedArgs }
  | { readonly kind: 'usage'; readonly text: string; readonly exitCode: 0 | 2 };

/**
 * `simsd [--verbose|--json|--help] COMMAND [POSITIONAL…] [--flag value | --flag=value | --boolean]…`.
 * Throws UsageError for anything the tables do not allow.
 */
export function parseCommandLine(argv: readonly string[], commands: Readonly<Record<string, CommandSpec>>): CommandLine {
  const at = argv.findIndex((a) => !a.startsWith('-'));
  const leading = at < 0 ? argv : argv.slice(0, at);
  const global = strictParse(leading, GLOBAL_FLAGS, 'simsd');
  if (at < 0) {
    const text = overview(commands);
    return global.values.help === true ? { kind: 'usage', text, exitCode: 0 } : { kind: 'usage', text, exitCode: 2 };
  }
  const name = argv[at];
  const spec = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (spec === undefined) {
    const hint = suggest(name, Object.keys(commands));
    throw new UsageError(`unknown command '${name}'${hint ? `; did you mean ${hint}?` : ''} (commands: ${Object.keys(commands).join(', ')}; see simsd --help)`);
  }
  const flags: FlagTable = { ...spec.flags, ...GLOBAL_FLAGS };
  const rest = argv.slice(at + 1);
  const end = rest.indexOf('--');
  if (global.values.help === true || (end < 0 ? rest : rest.slice(0, end)).includes('--help')) {
    return { kind: 'usage', text: commandUsage(spec, flags), exitCode: 0 };
  }
  const parsed = strictParse(rest, flags, name);
  if (parsed.positionals.length > spec.positionals.length) {
    const extra = parsed.positionals[spec.positionals.length];
    const takes = spec.positionals.length === 0 ? 'no positional arguments' : `only ${spec.positionals.join(' ')}`;
    throw new UsageError(`unexpected argument '${extra}': ${name} takes ${takes} (see simsd ${name} --help)`);
  }
  if (parsed.positionals.length < spec.positionals.length) {
    throw new UsageError(`${name} needs ${spec.positionals[parsed.positionals.length]} (usage: ${spec.usage})`);
  }
  const values = new Map<string, FlagValue>();
  for (const [key, raw] of Object.entries({ ...global.values, ...parsed.values })) {
    if (raw !== undefined) values.set(key, checkValue(key, flags[key], raw));
  }
  return { kind: 'run', args: { command: name, positionals: parsed.positionals, values, flags } };
}

type RawValues = Record<string, string | boolean | undefined>;

/** util.parseArgs sees only the type: every value is parsed as a string and checked by checkValue. */
function nodeOptions(flags: FlagTable): Record<string, { type: 'boolean' | 'string' }> {
  return Object.fromEntries(Object.entries(flags).map(([k, s]) => [k, { type: s.kind === 'boolean' ? 'boolean' : 'string' }]));
}

/** util.parseArgs in strict mode; its errors are rephrased as one UsageError line. */
function strictParse(args: readonly string[], flags: FlagTable, where: string): { values: RawValues; positionals: string[] } {
  const options = nodeOptions(flags);
  try {
    const r = nodeParseArgs({ args: [...args], options, strict: true, allowPositionals: true, tokens: true });
    const seen = new Set<string>();
    for (const t of r.tokens) {
      if (t.kind !== 'option') continue;
      if (seen.has(t.name)) throw new UsageError(`--${t.name} is given more than once`);
      seen.add(t.name);
    }
    return { values: r.values as RawValues, positionals: r.positionals };
  } catch (e) {
    if (e instanceof UsageError || !String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw e;
    throw new UsageError(diagnose(args, flags, where) ?? String((e as Error).message).split('\n')[0]);
  }
}

/** Finds the argument the strict parse refused by re-reading the tokens leniently, and says what is wrong. */
function diagnose(args: readonly string[], flags: FlagTable, where: string): string | null {
  const options = nodeOptions(flags);
  const { tokens } = nodeParseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    const spec = Object.hasOwn(flags, t.name) ? flags[t.name] : undefined;
    if (spec === undefined) {
      const raw = args[t.index].split('=')[0];
      const hint = suggest(raw.replace(/^-+/, ''), Object.keys(flags));
      return `unknown option ${raw} for ${where}${hint ? `; did you mean --${hint}?` : ''} (see simsd ${where === 'simsd' ? '' : `${where} `}--help)`;
    }
    if (spec.kind === 'boolean' && t.value !== undefined) return `--${t.name} takes no value (got '${args[t.index]}')`;
    if (spec.kind !== 'boolean' && t.value === undefined) return `--${t.name} needs a value`;
    if (spec.kind !== 'boolean' && !t.inlineValue && t.value !== undefined && t.value.length > 1 && t.value.startsWith('-')) {
      return `--${t.name} needs a value, but is followed by '${t.value}' (for a value that starts with '-', write --${t.name}=${t.value})`;
    }
  }
  return null;
}

const INTEGER = /^\d+$/;
const REAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

function checkValue(name: string, spec: FlagSpec, raw: string | boolean): FlagValue {
  if (spec.kind === 'boolean' || typeof raw === 'boolean') return raw;
  const v = raw.trim();
  switch (spec.kind) {
    case 'text':
      return raw;
    case 'path':
      if (raw === '') throw new UsageError(`--${name} needs a non-empty ${spec.value}`);
      return raw;
    case 'integer':
    case 'real': {
      const n = Number(v);
      const ok = (spec.kind === 'integer' ? INTEGER.test(v) && Number.isSafeInteger(n) : REAL.test(v) && Number.isFinite(n)) && n >= spec.min && n <= spec.max;
      if (!ok) throw new UsageError(`--${name} must be ${rangeText(spec)}, got '${raw}'`);
      return n;
    }
    case 'integers':
      return raw.split(',').map((entry, i) => {
        const e = entry.trim();
        if (e === '') throw new UsageError(`--${name} has an empty entry at position ${i + 1} in '${raw}' (write comma-separated integers, e.g. ${spec.value})`);
        const n = Number(e);
        if (!INTEGER.test(e) || !Number.isSafeInteger(n) || n < spec.min || n > spec.max) {
          throw new UsageError(`--${name}: '${e}' (position ${i + 1}) is not ${rangeText(spec).replace(/^comma-separated integers/, 'an integer')}`);
        }
        return n;
      });
    case 'choice':
    case 'choices': {
      const entries = spec.kind === 'choice' ? [v] : v.split(',').map((s) => s.trim());
      for (const e of entries) {
        if (!spec.choices.includes(e)) {
          const hint = suggest(e, spec.choices);
          throw new UsageError(`--${name} must be ${rangeText(spec)}, got '${e}'${hint ? `; did you mean ${hint}?` : ''}`);
        }
      }
      return spec.kind === 'choice' ? entries[0] : entries;
    }
  }
}

/** The documented range of a flag's value, as the usage and the errors say it. */
function rangeText(spec: FlagSpec): string {
  switch (spec.kind) {
    case 'integer':
    case 'real':
    case 'integers': {
      const what = spec.kind === 'integer' ? 'an integer' : spec.kind === 'real' ? 'a number' : 'comma-separated integers';
      return spec.max === Number.MAX_SAFE_INTEGER ? `${what} ≥ ${spec.min}` : `${what} in [${spec.min}, ${spec.max}]`;
    }
    case 'choice':
      return `one of ${spec.choices.join('|')}`;
    case 'choices':
      return `a comma-separated list of ${spec.choices.join('|')}`;
    default:
      return '';
  }
}

/** The closest known name within a small edit distance, or a unique name that `typed` begins. */
export function suggest(typed: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(typed.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(typed, k);
    if (d < bestDistance) { best = k; bestDistance = d; }
  }
  if (best !== null) return best;
  const prefixed = typed.length >= 3 ? known.filter((k) => k.startsWith(typed)) : [];
  return prefixed.length === 1 ? prefixed[0] : null;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

/** `simsd COMMAND --help`: the synopsis, then one line per flag with what its values mean. */
export function commandUsage(spec: CommandSpec, flags: FlagTable = { ...spec.flags, ...GLOBAL_FLAGS }): string {
  const left = (name: string, s: FlagSpec) => `--${name}${s.kind === 'boolean' ? '' : ` ${'value' in s ? s.value : s.kind === 'choices' ? 'A,B' : 'NAME'}`}`;
  const entries = Object.entries(flags);
  const width = Math.max(...entries.map(([n, s]) => left(n, s).length));
  const lines = entries.map(([n, s]) => `  ${left(n, s).padEnd(width)}  ${s.help}${rangeText(s) ? `; ${rangeText(s)}` : ''}`);
  return `usage: ${spec.usage}\noptions:\n${lines.join('\n')}\n`;
}

function overview(commands: Readonly<Record<string, CommandSpec>>): string {
  return `usage:\n${Object.values(commands).map((c) => `  ${c.usage}`).join('\n')}\n(simsd COMMAND --help lists a command's options; --verbose prints stack traces)\n`;
}

function declared(args: ParsedArgs, name: string, kinds: readonly FlagSpec['kind'][]): void {
  const spec = Object.hasOwn(args.flags, name) ? args.flags[name] : undefined;
  if (spec === undefined || !kinds.includes(spec.kind)) throw new Error(`--${name} is not declared for '${args.command}' as ${kinds.join('/')} (commands.ts)`);
}

export function booleanFlag(args: ParsedArgs, name: string): boolean {
  declared(args, name, ['boolean']);
  return args.values.get(name) === true;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  declared(args, name, ['text', 'path', 'choice']);
  return args.values.get(name) as string | undefined;
}

export function numberFlag(args: ParsedArgs, name: string): number | undefined;
export function numberFlag(args: ParsedArgs, name: string, fallback: number): number;
export function numberFlag(args: ParsedArgs, name: string, fallback?: number): number | undefined {
  declared(args, name, ['integer', 'real']);
  return (args.values.get(name) as number | undefined) ?? fallback;
}

export function numbersFlag(args: ParsedArgs, name: string): readonly number[] | undefined;
export function numbersFlag(args: ParsedArgs, name: string, fallback: readonly number[]): readonly number[];
export function numbersFlag(args: ParsedArgs, name: string, fallback?: readonly number[]): readonly number[] | undefined {
  declared(args, name, ['integers']);
  return (args.values.get(name) as readonly number[] | undefined) ?? fallback;
}

export function choiceFlag<T extends string>(args: ParsedArgs, name: string, choices: readonly T[], fallback: T): T {
  declared(args, name, ['choice']);
  return pick(name, args.values.get(name) as string | undefined ?? fallback, choices);
}

export function choicesFlag<T extends string>(args: ParsedArgs, name: string, choices: readonly T[], fallback: readonly T[]): readonly T[] {
  declared(args, name, ['choices']);
  const given = args.values.get(name) as readonly string[] | undefined;
  return given === undefined ? fallback : given.map((v) => pick(name, v, choices));
}

/** The table already checked the value; this narrows its type (and catches a table that drifted from the code). */
function pick<T extends string>(name: string, v: string, choices: readonly T[]): T {
  const found = choices.find((c) => c === v);
  if (found === undefined) throw new Error(`--${name}: '${v}' is in the flag table but not among the command's choices`);
  return found;
}
