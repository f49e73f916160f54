// A stand-in Hugging Face Hub on 127.0.0.1 serving local folders as repos, for the real-editor e2e (Select Models →
// a preset pulled from "the Hub"). Prints one JSON line `{"endpoint": …}` and serves until it is killed.
//
//   node out/tools/hub-serve.js --repo JetLM/SDAR-8B-Chat=models/target --repo JetLM/SDAR-1.7B-Chat=models/draft [--token T]
import { parseArgs } from 'node:util';
import { filesFromFolder, startHubServer } from '../fixtures/hub-server';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { repo: { type: 'string', multiple: true }, token: { type: 'string' } }, strict: true });
  const repos = (values.repo ?? []).map((spec) => {
    const [id, dir] = spec.split('=');
    if (!id || !dir) throw new Error(`--repo wants ORG/NAME=FOLDER, got ${spec}`);
    return { id, files: filesFromFolder(dir), token: values.token };
  });
  const hub = await startHubServer(repos);
  process.stdout.write(JSON.stringify({ endpoint: hub.endpoint }) + '\n');
  const stop = () => { void hub.close().then(() => process.exit(0)); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
