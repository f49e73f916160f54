// Every command's synopsis, positional arguments and flag table: the whole of what the command line accepts.
// A flag not in its command's table (or GLOBAL_FLAGS: --json, --verbose, --help) is refused as unknown.
import { MAX_BLOCKS_PER_VERIFY } from '../decode/params';
import { PRECISIONS, SAMPLING_TOP_K } from '../model/types';
import { REVEAL_RULE_NAMES, STRATEGY_NAMES, type StrategyName } from '../protocol/request';
import { WEIGHT_FORMATS } from '../model/weights';
import { PAIR_PRESET_NAMES } from '../hub/presets';
import type { ProviderSetting } from '../engine/provider-choice';
import { flag, type CommandSpec, type FlagTable } from './args';

export const STRATEGY_CHOICES: readonly (StrategyName | 'auto')[] = ['auto', ...STRATEGY_NAMES];
export const LAYOUTS = ['auto', 'fim', 'prefix'] as const;
export const EP_CHOICES: readonly ProviderSetting[] = ['cpu', 'webgpu', 'auto'];

/** Generous sanity caps; the real limit of a generation is the model's context, checked once it is loaded. */
const MAX_TOKENS = 65536;
const MAX_THREADS = 1024;

const PAIR: FlagTable = {
  target: flag.path('DIR', 'the target model: a checkpoint folder (converted once into the cache) or a converted folder'),
  draft: flag.path('DIR', 'the draft model, as --target'),
  'cache-dir': flag.path('DIR', 'where checkpoints are converted to; default ~/.cache/simsd/converted'),
  threads: flag.integer('N', 1, MAX_THREADS, 'intra-op threads per model; default: cores − 1'),
  ep: flag.choice(EP_CHOICES, 'execution provider: cpu (default); webgpu (fp16 graphs, KV cache on the device; refused if the probe fails); auto (WebGPU when correct and measured faster here)'),
};

/** generate, bench, demo: the graphs' float type, to compare fp32 and fp16 on WebGPU (the CPU runs fp32 only). */
const GRAPH_PRECISION = flag.choice(PRECISIONS, 'graph precision: fp32 or fp16; default fp16 on WebGPU, fp32 on the CPU (which runs fp32 only)');

export const COMMAND_SPECS = {
  inspect: {
    usage: 'simsd inspect DIR [--json]',
    positionals: ['DIR'],
    flags: {},
  },
  convert: {
    usage: 'simsd convert DIR --out OUT [--weights fp32|int4|fp16] [--precision fp32|fp16] [--accuracy-level 4] [--progress-json] [--json]',
    positionals: ['DIR'],
    flags: {
      out: flag.path('OUT', 'the converted folder to write'),
      weights: flag.choice(WEIGHT_FORMATS, 'weight format of the MatMuls; default int4'),
      precision: flag.choice(PRECISIONS, 'float type of activations and K/V: fp32 (CPU, default) or fp16 (WebGPU only; fp16 or int4 weights)'),
      'accuracy-level': flag.integer('L', 0, 4, 'MatMulNBits accuracy level of int4 weights (0 exact, 4 int8 compute); default 4'),
      'progress-json': flag.boolean('progress as one {"progress": {tensor, done, total, bytesWritten}} line on stderr per tensor, instead of a line every 2 s'),
    },
  },
  generate: {
    usage: 'simsd generate --target DIR [--draft DIR] (--prompt TEXT | --prompt-file F | --prompt-ids 1,2,3) [--chat] '
      + `[--strategy ${STRATEGY_CHOICES.join('|')}] [--rule static|dynamic] [--threshold T] [--temperature T --seed S --top-k K] [--max-tokens N] `
      + '[--no-fold] [--blocks-per-verify K] [--threads N] [--ep cpu|webgpu|auto] [--precision fp32|fp16] [--cache-dir DIR] [--json]',
    positionals: [],
    flags: {
      ...PAIR,
      precision: GRAPH_PRECISION,
      prompt: flag.text('TEXT', 'the prompt text'),
      'prompt-file': flag.path('F', 'a file whose text is the prompt (/dev/stdin works)'),
      'prompt-ids': flag.integers('1,2,3', 0, Number.MAX_SAFE_INTEGER, 'the prompt as token ids, each below the vocabulary size'),
      chat: flag.boolean("wrap the prompt text in the tokenizer's chat template"),
      strategy: flag.choice(STRATEGY_CHOICES, 'decoding strategy; default auto (measures and picks)'),
      rule: flag.choice(REVEAL_RULE_NAMES, 'the reveal rule every strategy follows; default static'),
      threshold: flag.real('T', 0, 1, 'τ of the dynamic reveal rule; default 0.9'),
      temperature: flag.real('T', 0, 100, '0 (default): argmax; > 0: sampling'),
      seed: flag.integer('S', 0, 0xffffffff, 'sampling noise seed; default 0'),
      'top-k': flag.integer('K', 1, SAMPLING_TOP_K, 'sampling candidates; default 64'),
      'max-tokens': flag.integer('N', 1, MAX_TOKENS, 'tokens to generate; default 64'),
      'no-fold': flag.boolean('run the clean pass separately instead of folding it into the next forward'),
      'blocks-per-verify': flag.integer('K', 1, MAX_BLOCKS_PER_VERIFY, 'blocks drafted per verification; default 1'),
    },
  },
  bench: {
    usage: 'simsd bench --target DIR --draft DIR [--prompts FILE.jsonl] [--max-tokens N] [--threshold T] [--threads N] [--ep cpu|webgpu|auto] [--precision fp32|fp16] [--cache-dir DIR] [--json]',
    positionals: [],
    flags: {
      ...PAIR,
      prompts: flag.path('FILE.jsonl', 'one {"prompt": "text"} or {"ids": [1,2,3]} per line; default media/demo/prompts.jsonl'),
      precision: GRAPH_PRECISION,
      'max-tokens': flag.integer('N', 1, MAX_TOKENS, 'tokens per prompt; default 64'),
      threshold: flag.real('T', 0, 1, 'τ of the dynamic reveal rule; default 0.9'),
    },
  },
  demo: {
    usage: 'simsd demo [--file F --target DIR --draft DIR --max-tokens N --strategies A,B] [--threads N] [--ep cpu|webgpu|auto] [--precision fp32|fp16] [--cache-dir DIR] [--json]',
    positionals: [],
    flags: {
      ...PAIR,
      precision: GRAPH_PRECISION,
      file: flag.path('F', 'a source file with a <CURSOR> marker; default media/demo/sample.py'),
      'max-tokens': flag.integer('N', 1, MAX_TOKENS, 'tokens per strategy; default 48'),
      strategies: flag.choices(STRATEGY_NAMES, 'strategies to run, in order; default all'),
    },
  },
  trace: {
    usage: 'simsd trace [--file SOURCE] [--steps 400] [--pace typist|sequential] [--ring N] [--layout auto|fim|prefix] [--max-tokens 24] [--target DIR --draft DIR] [--ep cpu|webgpu|auto] [--cache-dir DIR] [--json]',
    positionals: [],
    flags: {
      file: flag.path('SOURCE', 'the source file typed into; default src/completion/trigger.ts'),
      pace: flag.choice(['typist', 'sequential'], 'typist: keystrokes 60–140 ms apart (400 ms after a line), each cancelling the previous request as VS Code does; sequential: each keystroke waits for its answer. Default typist'),
      ring: flag.integer('N', 0, 16, "ring chunks from the file's sibling files, as if recently viewed; default 0"),
      steps: flag.integer('N', 1, 100_000, 'keystrokes to replay; default 400'),
      layout: flag.choice(LAYOUTS, "prompt layout; default auto (FIM when the target's manifest says it works)"),
      'max-tokens': flag.integer('N', 1, MAX_TOKENS, 'tokens per completion; default 24'),
      target: PAIR.target,
      draft: PAIR.draft,
      'cache-dir': PAIR['cache-dir'],
      ep: PAIR.ep,
    },
  },
  profile: {
    usage: 'simsd profile CONVERTED_DIR [--cache 512] [--rows 4,16] [--repeats 5] [--ep cpu|webgpu] [--kv device|host] [--threads N] [--json]',
    positionals: ['CONVERTED_DIR'],
    flags: {
      cache: flag.integer('C', 0, 1 << 20, 'committed tokens in the KV cache; default 512'),
      rows: flag.integers('4,16', 1, 4096, 'window rows L of the timed forwards; default 4,16'),
      repeats: flag.integer('N', 1, 10_000, 'timed forwards per row count (after one warm-up); default 5'),
      ep: flag.choice(['cpu', 'webgpu'], 'the execution provider to time on; default cpu (webgpu: fails with the reason when it cannot be used)'),
      kv: flag.choice(['device', 'host'], 'where the KV cache lives on WebGPU: device (default) or host (copied both ways every forward; fp32 folders only)'),
      threads: PAIR.threads,
    },
  },
  pull: {
    usage: 'simsd pull (REPO | --pair PRESET) [--revision REV] [--endpoint URL] [--cache-dir DIR] [--token T] [--progress-json] [--json]',
    positionals: ['REPO'],
    flags: {
      pair: flag.boolean(`the argument is a draft/target pair preset (${PAIR_PRESET_NAMES.join(', ')}): pull both models`),
      revision: flag.text('REV', 'branch, tag or commit; default main'),
      endpoint: flag.text('URL', 'the Hub or a mirror; default $HF_ENDPOINT, else https://huggingface.co'),
      'cache-dir': flag.path('DIR', 'the Hub cache; default $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub'),
      token: flag.text('T', 'access token for gated or private repositories; default $HF_TOKEN, else the huggingface-cli login'),
      'progress-json': flag.boolean('progress as one {"progress": {…}} JSON object per stderr line (for programs)'),
    },
  },
  serve: {
    usage: 'simsd serve --target DIR [--draft DIR] [--host 127.0.0.1] [--port 8000] [--api-key K] [--max-queue 16] '
      + `[--strategy ${STRATEGY_CHOICES.join('|')}] [--model-name NAME] [--cache-mb 512] [--threads N] [--ep cpu|webgpu|auto] [--cache-dir DIR] [--json]`,
    positionals: [],
    flags: {
      ...PAIR,
      host: flag.text('HOST', 'address to bind; default 127.0.0.1 (any other needs --api-key)'),
      port: flag.integer('N', 0, 65535, 'port; default 8000 (0: any free port, printed at start)'),
      'api-key': flag.text('K', 'require Authorization: Bearer K on /v1 and /metrics; default $SIMSD_API_KEY, else none'),
      'max-queue': flag.integer('N', 0, 4096, 'requests that may wait for the engine; one more is answered 429; default 16'),
      strategy: flag.choice(STRATEGY_CHOICES, 'decoding strategy of every request; default auto (measures and picks)'),
      'model-name': flag.text('NAME', "the model id of /v1/models, which requests must name; default the target folder's name"),
      'cache-mb': flag.integer('MB', 1, 1 << 20, 'memory for prefix caches over all cache slots; default 512'),
    },
  },
} as const satisfies Record<string, CommandSpec>;

export type CommandName = keyof typeof COMMAND_SPECS;
