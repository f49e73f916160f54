// simsd: the headless command line. The only place besides tests that prints.
// With --json, the last stdout line is one JSON object (what CI and scripts parse).
// Exit codes: 0 done; 2 a user-caused error (bad flag, checkpoint, request or file), one line on stderr;
// 1 an internal error, one line on stderr (the stack trace with --verbose).
import { booleanFlag, parseCommandLine, type ParsedArgs } from './args';
import { COMMAND_SPECS, type CommandName } from './commands';
import { reportError } from './errors';
import type { Print } from './model-commands';

type Command = (args: ParsedArgs, print: Print) => Promise<object>;

/** Loaded on use, so that a usage error or --help answers without loading onnxruntime and the tokenizers. */
const RUN: Record<CommandName, () => Promise<Command>> = {
  inspect: async () => (await import('./model-commands')).inspectCommand,
  convert: async () => (await import('./model-commands')).convertCommand,
  generate: async () => (await import('./decode-commands')).generateCommand,
  bench: async () => (await import('./decode-commands')).benchCommand,
  demo: async () => (await import('./decode-commands')).demoCommand,
  trace: async () => (await import('./trace-command')).traceCommand,
  profile: async () => (await import('./model-commands')).profileCommand,
  pull: async () => (await import('./pull-command')).pullCommand,
  serve: async () => (await import('./serve-command')).serveCommand,
};

async function main(argv: readonly string[]): Promise<number> {
  // Before the parse succeeds, --verbose is read from the raw arguments so a usage error can show its stack too.
  let verbose = argv.slice(0, argv.includes('--') ? argv.indexOf('--') : undefined).includes('--verbose');
  try {
    const line = parseCommandLine(argv, COMMAND_SPECS);
    if (line.kind === 'usage') {
      process.stdout.write(line.text);
      return line.exitCode;
    }
    const args = line.args;
    verbose = booleanFlag(args, 'verbose');
    const json = booleanFlag(args, 'json');
    // With --json, human lines go to stderr so stdout's last line is the JSON object.
    const print: Print = (text) => (json ? process.stderr : process.stdout).write(text + '\n');
    const command = await RUN[args.command as CommandName]();
    const result = await command(args, print);
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (err) {
    const report = reportError(err, verbose);
    process.stderr.write(report.lines.map((l) => l + '\n').join(''));
    return report.exitCode;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
