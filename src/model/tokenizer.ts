// The checkpoint's tokenizer: tokenizer.json through @huggingface/tokenizers (never a hand-written BPE),
// with the special ids resolved BY STRING from the added tokens at load time (models.md §4.1), so a
// tokenizer with other ids (our tiny models) works unchanged.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { type ChatMessage, type ChatTemplate, loadChatTemplate, missingChatTemplate } from './chat-template';
import { isRecord } from './config';
import { CheckpointError } from './errors';
import { MAX_BYTES, readJsonFile } from './user-file';

export type { ChatMessage } from './chat-template';

export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

/** SDAR's tokenizer_config.json says `<|MASK|>`, its added_tokens.json `<MASK>`; our tiny models use `<|mask|>`. */
const MASK_STRINGS = ['<|MASK|>', '<MASK>', '<|mask|>'];

export interface SpecialIds {
  readonly endOfText: number;                         // <|endoftext|>: eos = pad, a stop id
  readonly imStart: number;                           // <|im_start|>
  readonly imEnd: number;                             // <|im_end|>: end of turn, a stop id
  readonly mask: number | null;                       // the diffusion hole; config.json mask_token_id takes precedence
}

/** PSM fill-in-the-middle ids; null on the tokenizer when any of the three is absent (FIM disabled). */
export interface FimIds {
  readonly prefix: number;
  readonly suffix: number;
  readonly middle: number;
}

export interface DecodeOptions {
  /** Drop special tokens, the mask and the FIM tokens (Qwen marks the last two non-special): for displayed text. */
  readonly skipSpecial?: boolean;
}

export interface SdarTokenizer {
  readonly vocabSize: number;                         // highest token id + 1 (config vocab_size may be padded above it)
  readonly special: SpecialIds;
  readonly fim: FimIds | null;
  readonly chatTemplate: ChatTemplate | null;
  /** Token ids of `text` with no BOS and no added special tokens. Special-token strings in text still map to their ids. */
  encode(text: string): number[];
  /** Ids with no token (the padded rows above vocabSize) decode to nothing. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** The chat prompt (generation prompt on, thinking off). Throws a CheckpointError when there is no template. */
  renderChat(messages: readonly ChatMessage[]): string;
  encodeChat(messages: readonly ChatMessage[]): number[];
}

export function loadTokenizer(dir: string): SdarTokenizer {
  const file = join(dir, TOKENIZER_FILE);
  const configFile = join(dir, TOKENIZER_CONFIG_FILE);
  const json = readJsonFile(file, MAX_BYTES.tokenizer, 'bad-tokenizer');
  const config = existsSync(configFile) ? readJsonFile(configFile, MAX_BYTES.tokenizerConfig, 'bad-tokenizer') : {};
  if (!isRecord(json) || !isRecord(json.model) || !Array.isArray(json.added_tokens)) {
    throw new CheckpointError(file, 'bad-tokenizer', 'not a Hugging Face tokenizer.json (model or added_tokens missing)');
  }
  if (!isRecord(config)) throw new CheckpointError(configFile, 'bad-tokenizer', 'the file is not a JSON object');

  const added = new Map<string, { id: number; special: boolean }>();
  for (const t of json.added_tokens) {
    if (!isRecord(t) || typeof t.content !== 'string' || !Number.isSafeInteger(t.id)) {
      throw new CheckpointError(file, 'bad-tokenizer', `added_tokens holds a malformed entry ${JSON.stringify(t)}`);
    }
    added.set(t.content, { id: t.id as number, special: t.special === true });
  }
  const find = (...strings: string[]) => strings.map((s) => added.get(s)?.id).find((id) => id !== undefined) ?? null;
  const required = (s: string): number => {
    const id = find(s);
    if (id === null) throw new CheckpointError(file, 'bad-tokenizer', `added_tokens lacks ${s}`);
    return id;
  };
  const special: SpecialIds = { endOfText: required('<|endoftext|>'), imStart: required('<|im_start|>'), imEnd: required('<|im_end|>'), mask: find(...MASK_STRINGS) };
  const [prefix, suffix, middle] = [find('<|fim_prefix|>'), find('<|fim_suffix|>'), find('<|fim_middle|>')];
  const fim = prefix !== null && suffix !== null && middle !== null ? { prefix, suffix, middle } : null;

  // Not Math.max(...ids): 151k arguments can overflow the stack.
  const ids = [...(isRecord(json.model.vocab) ? Object.values(json.model.vocab) : []), ...[...added.values()].map((t) => t.id)];
  const vocabSize = ids.reduce((max: number, id) => (typeof id === 'number' && id > max ? id : max), -1) + 1;
  const hidden = new Set([...added.values()].filter((t) => t.special).map((t) => t.id));
  for (const id of [special.mask, ...(fim === null ? [] : [fim.prefix, fim.suffix, fim.middle])]) if (id !== null) hidden.add(id);

  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
    tokenizer.encode('x'); // some malformed parts (a bad regex, an unknown decoder) only fail on first use
  } catch (e) {
    throw new CheckpointError(file, 'bad-tokenizer', `@huggingface/tokenizers cannot load it (${(e as Error).message})`);
  }
  const chatTemplate = loadChatTemplate(dir, configFile, config);
  const renderChat = (messages: readonly ChatMessage[]): string => {
    if (chatTemplate === null) throw missingChatTemplate(dir, configFile);
    return chatTemplate.render(messages);
  };
  const encode = (text: string): number[] => (text === '' ? [] : tokenizer.encode(text, { add_special_tokens: false }).ids);

  return {
    vocabSize,
    special,
    fim,
    chatTemplate,
    encode,
    decode(ids, options = {}) {
      const kept = ids.filter((id) => tokenizer.id_to_token(id) !== undefined && !(options.skipSpecial === true && hidden.has(id)));
      // clean_up_tokenization_spaces would rewrite " ," to "," and break code round trips.
      return kept.length === 0 ? '' : tokenizer.decode(kept, { skip_special_tokens: false, clean_up_tokenization_spaces: false });
    },
    renderChat,
    encodeChat: (messages) => encode(renderChat(messages)),
  };
}
