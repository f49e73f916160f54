// The checkpoint's chat template, rendered with @huggingface/jinja (never by string concatenation).
// Source: `chat_template.jinja` when present (transformers loads that file over the config field), else
// tokenizer_config.json `chat_template` (a string, or a list of {name, template} from which "default" is used).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vm from 'node:vm';
import { Template } from '@huggingface/jinja';
import { isRecord } from './config';
import { CheckpointError } from './errors';
import { MAX_BYTES, readTextFile } from './user-file';

export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

/**
 * A template is a program from the checkpoint: it may loop for ever (`range(10**10)`) or build a huge string.
 * Rendering is synchronous, so it runs under a V8 watchdog (vm's `timeout` stops whatever JavaScript runs inside
 * the call, the jinja interpreter included) and its output is capped. Real chat templates render in about a
 * millisecond. The budget also bounds how long a cancel can wait for a render.
 */
export const RENDER_BUDGET_MS = 1000;
export const RENDER_MAX_CHARS = 4 << 20;

export interface ChatMessage {
  readonly role: 'system' | 'user' | 'assistant';
  readonly content: string;
}

export interface ChatTemplate {
  readonly file: string;                              // where the template came from, for messages
  /** The prompt for the next assistant turn, thinking off: it ends where the assistant's reply begins. */
  render(messages: readonly ChatMessage[]): string;
}

/** Finds and parses the template; null when the checkpoint has none. `configFile` is tokenizer_config.json. */
export function loadChatTemplate(dir: string, configFile: string, tokenizerConfig: Record<string, unknown>): ChatTemplate | null {
  const jinjaFile = join(dir, CHAT_TEMPLATE_FILE);
  const hasJinja = existsSync(jinjaFile);
  const file = hasJinja ? jinjaFile : configFile;
  const source = hasJinja ? readTextFile(jinjaFile, MAX_BYTES.template, 'bad-tokenizer') : configTemplate(tokenizerConfig.chat_template);
  if (source === null) return null;
  let template: Template;
  try {
    template = new Template(source);
  } catch (e) {
    throw new CheckpointError(file, 'bad-tokenizer', `the chat template does not parse (${(e as Error).message})`);
  }
  const context = {
    add_generation_prompt: true,
    enable_thinking: false, // the Qwen3 template then opens an empty <think></think> block
    bos_token: tokenString(tokenizerConfig.bos_token),
    eos_token: tokenString(tokenizerConfig.eos_token),
  };
  const sandbox = vm.createContext({ render: (): string => '' });
  const call = new vm.Script('render()');
  return {
    file,
    render(messages) {
      const values = { ...context, messages: messages.map((m) => ({ role: m.role, content: m.content })) };
      sandbox.render = () => template.render(values);
      let text: unknown;
      try {
        text = call.runInContext(sandbox, { timeout: RENDER_BUDGET_MS });
      } catch (e) {
        const timedOut = (e as NodeJS.ErrnoException).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
        const why = timedOut ? `took longer than ${RENDER_BUDGET_MS} ms (a loop that does not end?)` : `failed (${(e as Error).message})`;
        throw new CheckpointError(file, 'bad-tokenizer', `rendering the chat template ${why}`);
      }
      if (typeof text !== 'string') throw new CheckpointError(file, 'bad-tokenizer', 'the chat template did not render to text');
      if (text.length > RENDER_MAX_CHARS) throw new CheckpointError(file, 'bad-tokenizer', `the chat template rendered ${text.length} characters, more than ${RENDER_MAX_CHARS}`);
      return text;
    },
  };
}

/** The error for a chat request on a checkpoint without a template. */
export function missingChatTemplate(dir: string, configFile: string): CheckpointError {
  return new CheckpointError(join(dir, CHAT_TEMPLATE_FILE), 'missing-file', `no chat template: add ${CHAT_TEMPLATE_FILE} or a chat_template field to ${configFile}; chat prompts need one`);
}

function configTemplate(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) return null;
  const named = value.find((t): t is { name: string; template: string } => isRecord(t) && t.name === 'default' && typeof t.template === 'string');
  return named?.template ?? null;
}

/** tokenizer_config.json spells a token as a string, as {content: string}, or as null. */
function tokenString(value: unknown): string {
  if (typeof value === 'string') return value;
  return isRecord(value) && typeof value.content === 'string' ? value.content : '';
}
