// The SDAR checkpoints SimSD knows by name, and the draft/target pairs it offers (`simsd pull --pair NAME`, the
// extension's model picker). Pure data: no imports, so the extension host can bundle it.
//
// Sizes. BF16 weights are 2 bytes per parameter. For 4B and 8B the parameter counts are the `total_size` of the
// released index files; for 1.7B the count is computed from its config (28 layers, hidden 2048, FFN 6144, untied
// 151,936 × 2,048 embedding and lm_head), so its size is an estimate. Each download adds ≈ 16 MB of tokenizer files
// (tokenizer.json ≈ 11 MB, vocab.json, merges.txt), also estimated.
// Memory after conversion to int4 (what the engine loads): the embedding as fp16 (2 bytes per parameter), every
// other matrix as int4 blocks of 32 with an fp32 scale and a 4-bit zero point (0.640625 bytes per parameter), plus
// the fp32 KV cache for a 4,096-token context (layers · 8 kv heads · 128 · 2 · 4 bytes per token) and ≈ 0.5 GB of
// runtime and activations. Computed, not measured: estimates.

export type ExecutionProviderName = 'cpu' | 'webgpu';

export interface SdarModelInfo {
  readonly repo: string;
  readonly label: string;
  readonly parameters: number;
  readonly parametersMeasured: boolean;        // from the released index (true) or computed from the config (false)
  readonly downloadBytes: number;              // BF16 safetensors + tokenizer files, approximate
  readonly int4WeightBytes: number;            // the converted int4 weights, estimated
  readonly memoryBytes: number;                // int4 weights + KV cache for 4,096 tokens + runtime, estimated
  readonly providers: readonly ExecutionProviderName[]; // suitable execution providers, best first
  readonly hardware: string;                   // what it needs, in words
  readonly blockLength: number;
}

const TOKENIZER_FILES_BYTES = 16_000_000;
const RUNTIME_BYTES = 500_000_000;

export const SDAR_MODELS: Readonly<Record<string, SdarModelInfo>> = {
  'JetLM/SDAR-1.7B-Chat': {
    repo: 'JetLM/SDAR-1.7B-Chat',
    label: 'SDAR 1.7B Chat',
    parameters: 2_031_739_904,
    parametersMeasured: false,
    downloadBytes: 4_063_479_808 + TOKENIZER_FILES_BYTES,    // ≈ 4.1 GB
    int4WeightBytes: 1_724_573_200,                           // ≈ 1.7 GB
    memoryBytes: 1_724_573_200 + 939_524_096 + RUNTIME_BYTES, // ≈ 3.2 GB
    providers: ['webgpu', 'cpu'],
    hardware: 'a strong CPU (8+ cores) or a GPU',
    blockLength: 4,
  },
  'JetLM/SDAR-4B-Chat': {
    repo: 'JetLM/SDAR-4B-Chat',
    label: 'SDAR 4B Chat',
    parameters: 4_411_424_256,
    parametersMeasured: true,
    downloadBytes: 8_822_848_512 + TOKENIZER_FILES_BYTES,      // ≈ 8.8 GB
    int4WeightBytes: 3_354_805_944,                            // ≈ 3.4 GB
    memoryBytes: 3_354_805_944 + 1_207_959_552 + RUNTIME_BYTES, // ≈ 5.1 GB
    providers: ['webgpu', 'cpu'],
    hardware: 'a GPU (a fast CPU works, slowly)',
    blockLength: 4,
  },
  'JetLM/SDAR-8B-Chat': {
    repo: 'JetLM/SDAR-8B-Chat',
    label: 'SDAR 8B Chat',
    parameters: 8_190_735_360,
    parametersMeasured: true,
    downloadBytes: 16_381_470_720 + TOKENIZER_FILES_BYTES,     // ≈ 16.4 GB
    int4WeightBytes: 6_093_169_488,                            // ≈ 6.1 GB
    memoryBytes: 6_093_169_488 + 1_207_959_552 + RUNTIME_BYTES, // ≈ 7.8 GB
    providers: ['webgpu'],
    hardware: 'a GPU with 8 GB or more',
    blockLength: 4,
  },
};

export interface PairPreset {
  readonly name: string;
  readonly label: string;
  readonly draft: string;                      // repo id, a key of SDAR_MODELS
  readonly target: string;
  readonly note: string;                       // one line for a picker: what the pair needs
  readonly downloadBytes: number;              // both models, approximate
  readonly downloadGB: number;                 // the same, in GB with one decimal, for display
  readonly memoryBytes: number;                // both models after int4 conversion, estimated
  readonly providers: readonly ExecutionProviderName[]; // the target decides
}

export const PAIR_PRESETS: readonly PairPreset[] = [
  {
    name: 'sdar-1.7b+8b',
    label: 'SDAR 1.7B → 8B (the SimSD paper pair)',
    draft: 'JetLM/SDAR-1.7B-Chat',
    target: 'JetLM/SDAR-8B-Chat',
    note: 'the pair the SimSD paper measures; the 8B target needs a GPU (≈ 11 GB of memory after int4 conversion)',
    downloadGB: 20.5,
    downloadBytes: SDAR_MODELS['JetLM/SDAR-1.7B-Chat'].downloadBytes + SDAR_MODELS['JetLM/SDAR-8B-Chat'].downloadBytes,
    memoryBytes: SDAR_MODELS['JetLM/SDAR-1.7B-Chat'].memoryBytes + SDAR_MODELS['JetLM/SDAR-8B-Chat'].memoryBytes,
    providers: SDAR_MODELS['JetLM/SDAR-8B-Chat'].providers,
  },
  {
    name: 'sdar-1.7b+4b',
    label: 'SDAR 1.7B → 4B',
    draft: 'JetLM/SDAR-1.7B-Chat',
    target: 'JetLM/SDAR-4B-Chat',
    note: 'a smaller pair: a GPU, or a fast CPU with patience (≈ 8.3 GB of memory after int4 conversion)',
    downloadGB: 12.9,
    downloadBytes: SDAR_MODELS['JetLM/SDAR-1.7B-Chat'].downloadBytes + SDAR_MODELS['JetLM/SDAR-4B-Chat'].downloadBytes,
    memoryBytes: SDAR_MODELS['JetLM/SDAR-1.7B-Chat'].memoryBytes + SDAR_MODELS['JetLM/SDAR-4B-Chat'].memoryBytes,
    providers: SDAR_MODELS['JetLM/SDAR-4B-Chat'].providers,
  },
];

export const PAIR_PRESET_NAMES: readonly string[] = PAIR_PRESETS.map((p) => p.name);

export function findPairPreset(name: string): PairPreset | undefined {
  return PAIR_PRESETS.find((p) => p.name === name);
}
