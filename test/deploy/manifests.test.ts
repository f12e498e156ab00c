/**
 * The shipped manifests start as written or say plainly that they cannot (deploy/README.md): the
 * agent config that deploy/daemonset.yaml and the Helm chart's ConfigMap render is judged by the
 * real `tendril agent --check-config`, and the result is what deploy/README.md states. The chart
 * is rendered here by a small evaluator for exactly the template constructs the ConfigMap uses
 * (`.Values.x`, `quote`, `toYaml`, `omit`, `indent`); an unknown construct fails the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { TENDRIL_BIN } from '../helpers/agent.js';

const REPO = new URL('../../', import.meta.url).pathname;
const CHART = join(REPO, 'deploy/helm/tendril');

type Values = Record<string, unknown>;

function lookup(values: Values, path: string): unknown {
  let v: unknown = { Values: values, Release: { Namespace: 'kube-system', Name: 'tendril' } };
  for (const k of path.replace(/^\./, '').split('.')) v = (v as Record<string, unknown>)?.[k];
  return v;
}

/** Evaluates one `{{ ... }}` pipeline of the ConfigMap template. */
function evalPipeline(expr: string, values: Values): string {
  const stages = expr.split('|').map((s) => s.trim());
  let cur: unknown;
  const first = stages.shift()!;
  let m: RegExpExecArray | null;
  if ((m = /^toYaml \(omit (\.[\w.]+)((?: "[^"]+")+)\)$/.exec(first))) {
    const obj = { ...(lookup(values, m[1]!) as Record<string, unknown>) };
    for (const k of [...m[2]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!)) delete obj[k];
    cur = stringify(obj).trimEnd();
  } else if ((m = /^toYaml (\.[\w.]+)$/.exec(first))) {
    cur = stringify(lookup(values, m[1]!)).trimEnd();
  } else if (/^\.[\w.]+$/.test(first)) {
    cur = lookup(values, first);
  } else assert.fail(`template construct not understood by this test: {{ ${expr} }}`);
  for (const s of stages) {
    if (s === 'quote') cur = JSON.stringify(String(cur));
    else if ((m = /^indent (\d+)$/.exec(s))) cur = String(cur).split('\n').map((l) => ' '.repeat(Number(m![1])) + l).join('\n');
    else assert.fail(`template function not understood by this test: ${s}`);
  }
  return typeof cur === 'string' ? cur : String(cur);
}

function renderTemplate(text: string, values: Values): string {
  return text.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_, e: string) => evalPipeline(e, values));
}

function configMapConfig(manifest: string): string {
  for (const doc of parseAllDocuments(manifest)) {
    const o = doc.toJS() as { kind?: string; data?: Record<string, string> } | null;
    if (o?.kind === 'ConfigMap' && o.data?.['tendril.yaml']) return o.data['tendril.yaml'];
  }
  assert.fail('no ConfigMap with tendril.yaml');
}

async function checkConfig(config: string, t: { after(fn: () => void): void }): Promise<{ code: number; out: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'tendril-deploy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tendril.yaml');
  writeFileSync(file, config);
  const child = spawn(process.execPath, [TENDRIL_BIN, 'agent', '--check-config', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, out };
}

const README = readFileSync(join(REPO, 'deploy/README.md'), 'utf8');

test('deploy/daemonset.yaml: the agent refuses its config naming mode, as deploy/README.md says', async (t) => {
  const config = configMapConfig(readFileSync(join(REPO, 'deploy/daemonset.yaml'), 'utf8'));
  assert.equal((parse(config) as { mode: string }).mode, 'kubernetes');
  const r = await checkConfig(config, t);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /^\s+mode: /m, r.out);
  assert.match(README, /cannot start/);
});

test('Helm chart: the rendered ConfigMap is refused naming mode, as deploy/README.md says', async (t) => {
  const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Values;
  const rendered = renderTemplate(readFileSync(join(CHART, 'templates/configmap.yaml'), 'utf8'), values);
  const config = configMapConfig(rendered);
  const parsed = parse(config) as Record<string, unknown>;
  assert.equal(parsed.mode, 'kubernetes');
  assert.deepEqual(parsed.encryption, values.encryption, 'the chart passes its values through');
  const r = await checkConfig(config, t);
  assert.equal(r.code, 2, r.out);
  assert.match(r.out, /^\s+mode: /m, r.out);
});
