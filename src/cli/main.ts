// simsd: the headless command line. The only place besides tests that prints.
// With --json, the last stdout line is one JSON object (what CI and scripts parse).
import { CheckpointError } from '../model/errors';
import { parseArgs, UsageError, type ParsedArgs } from './args';
import { benchCommand, demoCommand, generateCommand } from './decode-commands';
import { traceCommand } from './trace-command';
import { convertCommand, inspectCommand, profileCommand, type Print } from './model-commands';

type Command = (args: ParsedArgs, print: Print) => Promise<object>;

const COMMANDS: Record<string, { run: Command; usage: string }> = {
  inspect: { run: inspectCommand, usage: 'simsd inspect DIR [--json]' },
  convert: { run: convertCommand, usage: 'simsd convert DIR --out OUT [--weights fp32|int4|fp16] [--accuracy-level 4] [--json]' },
  generate: { run: generateCommand, usage: 'simsd generate --target DIR [--draft DIR] (--prompt TEXT | --prompt-file F | --prompt-ids 1,2,3) [--chat] [--strategy auto|vanilla-static|vanilla-dynamic|simsd|simsd-exact] [--threshold T] [--temperature T --seed S] [--max-tokens N] [--json]' },
  bench: { run: benchCommand, usage: 'simsd bench --target DIR --draft DIR [--prompts FILE.jsonl] [--max-tokens N] [--json]' },
  demo: { run: demoCommand, usage: 'simsd demo [--file F --target DIR --draft DIR --max-tokens N] [--json]' },
  trace: { run: traceCommand, usage: 'simsd trace [--file SOURCE] [--steps 400] [--layout auto|fim|prefix] [--max-tokens 24] [--target DIR --draft DIR] [--json]' },
  profile: { run: profileCommand, usage: 'simsd profile CONVERTED_DIR [--cache 512] [--rows 4,16] [--repeats 5] [--threads N] [--json]' },
};

const BOOLEAN_FLAGS = new Set(['json', 'chat', 'help', 'no-fold']);

async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv, BOOLEAN_FLAGS);
  const command = args.command ? COMMANDS[args.command] : undefined;
  if (!command || args.flags.has('help')) {
    process.stdout.write(`usage:\n${Object.values(COMMANDS).map((c) => `  ${c.usage}`).join('\n')}\n`);
    return command || args.flags.has('help') ? 0 : 2;
  }
  const json = args.flags.has('json');
  // With --json, human lines go to stderr so stdout's last line is the JSON object.
  const print: Print = (line) => (json ? process.stderr : process.stdout).write(line + '\n');
  const result = await command.run(args, print);
  if (json) process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof CheckpointError) {
      process.stderr.write(`simsd: ${err.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`simsd: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
