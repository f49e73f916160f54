// Seeded fuzzing of everything a checkpoint folder can hold: safetensors headers, offsets, dtypes and shapes,
// config values, the shard index, tokenizer files and chat templates. Each case copies a valid tiny checkpoint,
// applies one mutation, then inspects it, converts it, and renders its chat template, as `simsd inspect`,
// `simsd convert` and Generate Code would. It prints one JSON line before ("start") and after ("done") every case,
// so the parent (test/unit/fuzz-checkpoints.test.ts) sees which case crashed or hung.
//
//   node out/tools/fuzz-checkpoints.js --seed 20261203 --cases 160 --work /tmp/dir
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { describeCheckpoint } from '../../src/model/checkpoint';
import { convertCheckpoint } from '../../src/model/convert';
import { CheckpointError, RequestError } from '../../src/model/errors';
import { loadTokenizer } from '../../src/model/tokenizer';
import { hashKey, mulberry32 } from '../fixtures/prng';
import { makeCheckpoint, TINY } from '../fixtures/tiny-checkpoint';

type Rng = () => number;
type Mutation = (dir: string, rng: Rng) => string; // returns a description

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const writeJson = (file: string, json: unknown) => writeFileSync(file, JSON.stringify(json));

/** Values that break numbers in interesting ways. */
const HOSTILE_VALUES: readonly unknown[] = [
  -1, 0, 1, 3, 1.5, 1e7, 1e12, 2 ** 53, Number.MAX_SAFE_INTEGER, '8', null, [], {}, true, [4, 4], -0.0, 1e308,
];

function headerOf(file: string): { header: Record<string, Record<string, unknown>>; rest: Buffer } {
  const bytes = readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, Record<string, unknown>>, rest: bytes.subarray(8 + n) };
}

function writeHeader(file: string, header: unknown, rest: Buffer, lengthOverride?: bigint): void {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  writeFileSync(file, Buffer.concat([prefix, json, rest]));
}

const WEIGHTS = 'model.safetensors';

const MUTATIONS: Readonly<Record<string, Mutation>> = {
  'config-field': (dir, rng) => {
    const file = join(dir, 'config.json');
    const json = readJson(file);
    const key = pick(rng, ['hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'intermediate_size',
      'vocab_size', 'max_position_embeddings', 'block_size', 'mask_token_id', 'eos_token_id', 'rope_theta', 'rms_norm_eps', 'rope_scaling', 'tie_word_embeddings']);
    const value = pick(rng, HOSTILE_VALUES);
    if (rng() < 0.15) delete json[key];
    else json[key] = value;
    writeJson(file, json);
    return `config.json ${key} = ${JSON.stringify(json[key])}`;
  },
  'config-bytes': (dir, rng) => {
    const file = join(dir, 'config.json');
    const kind = pick(rng, ['empty', 'garbage', 'array', 'huge', 'truncated', 'nested']);
    if (kind === 'empty') writeFileSync(file, '');
    if (kind === 'garbage') writeFileSync(file, Buffer.from(Array.from({ length: 200 }, () => Math.floor(rng() * 256))));
    if (kind === 'array') writeFileSync(file, '[1,2,3]');
    if (kind === 'huge') writeFileSync(file, `{"pad":"${'x'.repeat(3 << 20)}"}`);
    if (kind === 'truncated') truncateSync(file, Math.floor(rng() * 100));
    if (kind === 'nested') writeFileSync(file, '['.repeat(100_000) + ']'.repeat(100_000));
    return `config.json ${kind}`;
  },
  'special-file': (dir, rng) => {
    const name = pick(rng, ['config.json', 'tokenizer.json', 'tokenizer_config.json', WEIGHTS, 'generation_config.json']);
    const file = join(dir, name);
    rmSync(file, { force: true });
    const kind = pick(rng, ['fifo', 'dev-zero', 'directory', 'dangling-link', 'dev-null']);
    if (kind === 'fifo') execFileSync('mkfifo', [file]);
    if (kind === 'dev-zero') symlinkSync('/dev/zero', file);
    if (kind === 'dev-null') symlinkSync('/dev/null', file);
    if (kind === 'directory') mkdirSync(file);
    if (kind === 'dangling-link') symlinkSync(join(dir, 'nowhere'), file);
    return `${name} is a ${kind}`;
  },
  'header-field': (dir, rng) => {
    const file = join(dir, WEIGHTS);
    const { header, rest } = headerOf(file);
    const names = Object.keys(header).filter((n) => n !== '__metadata__');
    const name = pick(rng, names);
    const field = pick(rng, ['dtype', 'shape', 'data_offsets']);
    const value = field === 'dtype'
      ? pick(rng, ['F64', 'I8', 'U8', 'BOOL', 'F8_E4M3', 'bf16', '', 7, null])
      : field === 'shape'
        ? pick(rng, [[], [-1, 4], [1e9, 1e9], [2 ** 53], [1.5, 2], ['4'], null, [0, 64], [4, 4, 4, 4, 4, 4, 4, 4, 4]])
        : pick(rng, [[0], [5, 1], [-8, 0], [0, 1e15], [0, 2 ** 60], [1.5, 9], null, [0, 0], ['0', '8']]);
    header[name] = { ...header[name], [field]: value };
    writeHeader(file, header, rest);
    return `${WEIGHTS} ${name}.${field} = ${JSON.stringify(value)}`;
  },
  'header-bytes': (dir, rng) => {
    const file = join(dir, WEIGHTS);
    const bytes = readFileSync(file);
    const kind = pick(rng, ['length-huge', 'length-zero', 'length-short', 'flip', 'truncate', 'not-json', 'extra-tensor-overlap']);
    if (kind === 'length-huge') bytes.writeBigUInt64LE(BigInt(pick(rng, [2 ** 40, 2 ** 63, 100_000_000])), 0);
    if (kind === 'length-zero') bytes.writeBigUInt64LE(0n, 0);
    if (kind === 'length-short') bytes.writeBigUInt64LE(BigInt(Number(bytes.readBigUInt64LE(0)) - 7), 0);
    if (kind === 'flip') for (let i = 0; i < 8; i++) bytes[8 + Math.floor(rng() * Math.min(400, bytes.length - 8))] ^= 1 << Math.floor(rng() * 8);
    if (kind === 'truncate') { writeFileSync(file, bytes.subarray(0, Math.floor(rng() * bytes.length))); return `${WEIGHTS} truncated`; }
    if (kind === 'not-json') bytes.fill(0x7b, 8, 40);
    if (kind === 'extra-tensor-overlap') {
      const { header, rest } = headerOf(file);
      header['model.extra'] = { dtype: 'BF16', shape: [4], data_offsets: [0, 8] };
      writeHeader(file, header, rest);
      return `${WEIGHTS} ${kind}`;
    }
    writeFileSync(file, bytes);
    return `${WEIGHTS} ${kind}`;
  },
  'tokenizer': (dir, rng) => {
    const file = join(dir, 'tokenizer.json');
    const json = readJson(file);
    const kind = pick(rng, ['no-added', 'added-not-array', 'bad-added', 'id-beyond-vocab', 'no-model', 'model-type', 'no-mask', 'vocab-huge-id', 'truncated']);
    if (kind === 'no-added') delete json.added_tokens;
    if (kind === 'added-not-array') json.added_tokens = { a: 1 };
    if (kind === 'bad-added') (json.added_tokens as unknown[]).push({ id: 'x', content: 3 });
    if (kind === 'id-beyond-vocab') (json.added_tokens as unknown[]).push({ id: 9_999_999, content: '<|x|>', special: true });
    if (kind === 'no-model') delete json.model;
    if (kind === 'model-type') (json.model as Record<string, unknown>).type = pick(rng, ['Unigram', 'WordPiece', 'Nope', 7]);
    if (kind === 'no-mask') json.added_tokens = (json.added_tokens as { content: string }[]).filter((t) => !t.content.includes('mask'));
    if (kind === 'vocab-huge-id') (json.model as { vocab: Record<string, number> }).vocab['zz-huge'] = 2 ** 40;
    if (kind === 'truncated') { writeFileSync(file, JSON.stringify(json).slice(0, Math.floor(rng() * 2000))); return `tokenizer.json ${kind}`; }
    writeJson(file, json);
    return `tokenizer.json ${kind}`;
  },
  'template': (dir, rng) => {
    const file = join(dir, 'tokenizer_config.json');
    const json = readJson(file);
    const kind = pick(rng, ['loop', 'nested-loop', 'recursion', 'syntax', 'huge-output', 'not-string', 'named-list', 'undefined-call']);
    const templates: Record<string, unknown> = {
      loop: '{% for i in range(10000000000) %}x{% endfor %}',
      'nested-loop': '{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}',
      recursion: '{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}',
      syntax: '{% for x in %}{{',
      'huge-output': '{% set s = "ab" %}{% for i in range(40) %}{% set s = s ~ s %}{% endfor %}{{ s }}',
      'not-string': 42,
      'named-list': [{ name: 'default', template: '{% for i in range(10**10) %}{% endfor %}' }],
      'undefined-call': '{{ nothing.here() }}',
    };
    json.chat_template = templates[kind];
    writeJson(file, json);
    return `tokenizer_config.json chat_template ${kind}`;
  },
  'generation-config': (dir, rng) => {
    const value = pick(rng, [[-1], [1e9], 'eos', [null], {}, [], 4.5]);
    writeJson(join(dir, 'generation_config.json'), { eos_token_id: value });
    return `generation_config.json eos_token_id = ${JSON.stringify(value)}`;
  },
  'index': (dir, rng) => {
    const { header } = headerOf(join(dir, WEIGHTS));
    const names = Object.keys(header).filter((n) => n !== '__metadata__');
    const kind = pick(rng, ['escape', 'missing-shard', 'total-size', 'not-object', 'absolute']);
    const map = Object.fromEntries(names.map((n) => [n, WEIGHTS]));
    if (kind === 'escape') map[names[0]] = '../outside.safetensors';
    if (kind === 'absolute') map[names[0]] = '/etc/passwd';
    if (kind === 'missing-shard') map[names[0]] = 'model-00002-of-00002.safetensors';
    const bytes = names.reduce((sum, n) => { const [a, b] = header[n].data_offsets as number[]; return sum + b - a; }, 0);
    const index = kind === 'not-object' ? [1, 2] : { metadata: { total_size: kind === 'total-size' ? bytes + 2 : bytes }, weight_map: map };
    writeJson(join(dir, 'model.safetensors.index.json'), index);
    return `model.safetensors.index.json ${kind}`;
  },
};

interface CaseResult {
  readonly case: number;
  readonly mutation: string;
  readonly outcome: 'ok' | 'error';
  readonly errorName?: string;
  readonly message?: string;
  readonly ms: number;
  readonly rssMB: number;
}

async function runCase(base: string, work: string, index: number, seed: number): Promise<CaseResult> {
  const rng = mulberry32(hashKey(`${seed}/${index}`));
  const dir = join(work, `case-${index}`);
  rmSync(dir, { recursive: true, force: true });
  cpSync(base, dir, { recursive: true });
  const name = pick(rng, Object.keys(MUTATIONS));
  const mutation = `${name}: ${MUTATIONS[name](dir, rng)}`;
  process.stdout.write(JSON.stringify({ start: index, mutation }) + '\n');
  const started = performance.now();
  let outcome: CaseResult['outcome'] = 'ok';
  let error: Error | undefined;
  try {
    describeCheckpoint(dir);
    await convertCheckpoint(dir, join(work, `out-${index}`), { weights: pick(rng, ['fp32', 'int4'] as const), variants: ['greedy'] });
    const tokenizer = loadTokenizer(dir);
    if (tokenizer.chatTemplate) tokenizer.encodeChat([{ role: 'user', content: 'write a function' }]);
  } catch (e) {
    outcome = 'error';
    error = e as Error;
  }
  const ms = performance.now() - started;
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(work, `out-${index}`), { recursive: true, force: true });
  return {
    case: index, mutation, outcome, ms: Math.round(ms), rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    ...(error ? { errorName: error instanceof CheckpointError || error instanceof RequestError ? error.name : `untyped ${error.name}`, message: error.message.slice(0, 300) } : {}),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seed: { type: 'string' }, cases: { type: 'string' }, work: { type: 'string' } }, strict: true });
  const seed = Number(values.seed ?? 20261203);
  const cases = Number(values.cases ?? 160);
  const work = values.work ?? '/tmp/simsd-fuzz';
  mkdirSync(work, { recursive: true });
  const base = join(work, 'base');
  if (!existsSync(base)) makeCheckpoint(base, { ...TINY, seed: 5 });
  for (let i = 0; i < cases; i++) process.stdout.write(JSON.stringify(await runCase(base, work, i, seed)) + '\n');
}

void main();
