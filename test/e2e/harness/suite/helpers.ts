// Shared by the harness tests: the extension under test and its API contract.
import * as assert from 'assert';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'simsd.simsd';

export const COMMANDS = [
  'simsd.generateCode',
  'simsd.triggerCompletion',
  'simsd.toggle',
  'simsd.selectModels',
  'simsd.showLog',
  'simsd.copyDebugInfo',
];

/** The object activate() returns (the contract the e2e tests rely on). */
export interface SimsdApi {
  ready: Promise<{ device: string; models: string }>;
  lastCompletion(): { text: string } | undefined;
  stats(): object;
  backend(): { kind: 'local' | 'remote'; ready: boolean };
}

/** How long the engine may take to load its models (SIMSD_E2E_READY_TIMEOUT_S, default 180 s). */
export const READY_TIMEOUT_MS = Number(process.env.SIMSD_E2E_READY_TIMEOUT_S || 180) * 1000;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function getExtension(): vscode.Extension<SimsdApi> {
  const ext = vscode.extensions.getExtension<SimsdApi>(EXTENSION_ID);
  assert.ok(ext, `extension ${EXTENSION_ID} is not loaded`);
  return ext;
}

/** Activates the extension (a no-op when onStartupFinished already did) and returns its API. */
export async function getApi(): Promise<SimsdApi> {
  const api = await getExtension().activate();
  assert.ok(api, 'activate() returned nothing');
  return api;
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
