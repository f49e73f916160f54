// The checkpoint's chat template, rendered with @huggingface/jinja (never by string concatenation).
// Source: `chat_template.jinja` when present (transformers loads that file over the config field), else
// tokenizer_config.json `chat_template` (a string, or a list of {name, template} from which "default" is used).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { isRecord } from './config';
import { CheckpointError } from './errors';

export const CHAT_TEMPLATE_FILE = 'chat_template.jinja';

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
  const source = hasJinja ? readFileSync(jinjaFile, 'utf8') : configTemplate(tokenizerConfig.chat_template);
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
  return {
    file,
    render(messages) {
      try {
        return template.render({ ...context, messages: messages.map((m) => ({ role: m.role, content: m.content })) });
      } catch (e) {
        throw new CheckpointError(file, 'bad-tokenizer', `the chat template failed to render (${(e as Error).message})`);
      }
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
