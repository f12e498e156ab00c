/**
 * Policy engine benchmark: 1,000 policies x 10,000 endpoints.
 * Measures L3/L4 verdicts/s over a random working set (>= 10,000 distinct source/destination/port
 * triples, larger than any cache: first touch and repeated) beside the hot set (a few thousand
 * repeated pairs), HTTP L7 verdicts/s, full resolution, one-policy change, and RE2 vs JS RegExp
 * for HTTP path matching. Prints ratios: vs a baseline measured in this run (one Map.get of a
 * precomputed verdict, the floor for any O(1) lookup) and vs the targets in docs/policy.md.
 * Not covered: policy parsing from disk, world changes, DNS-learned FQDN peers.
 */
import { stringify } from 'yaml';
import { createEngine, parsePolicyText, mergePolicySets, worldFromObject, type PolicySet } from '../policy/index.js';
import { createRequire } from 'node:module';
import { compileRe2, defaultRegexEngine } from '../policy/regex.js';
import { classifyRegex } from '../policy/regex-class.js';
import type { Engine } from '../policy/engine.js';
import type { Peer } from '../policy/peers.js';
import { endpointPeer } from '../policy/peers.js';

const NS = 100;
const PER_NS = 100; // 10,000 endpoints
const POLICIES_PER_NS = 10; // 1,000 policies
const APPS = 20;

function buildWorld(): ReturnType<typeof worldFromObject> {
  const endpoints = [];
  for (let n = 0; n < NS; n++) {
    for (let i = 0; i < PER_NS; i++) {
      endpoints.push({
        name: `pod-${i}`,
        namespace: `ns-${n}`,
        labels: { app: `app-${i % APPS}`, tier: i % 2 ? 'web' : 'db' },
        ips: [`10.${n}.${Math.floor(i / 250)}.${(i % 250) + 1}`],
      });
    }
  }
  return worldFromObject({ namespaces: Array.from({ length: NS }, (_, n) => ({ name: `ns-${n}`, labels: { team: `t${n % 7}` } })), endpoints });
}

function policyDoc(n: number, k: number, variant = 0): string {
  const app = `app-${k}`;
  const peer = `app-${(k + 1) % APPS}`;
  return stringify({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name: `p-${k}`, namespace: `ns-${n}` },
    spec: {
      endpointSelector: { matchLabels: { app } },
      ingress: [
        {
          fromEndpoints: [{ matchLabels: { app: peer } }],
          toPorts: [
            {
              ports: [{ port: String(8080 + variant), protocol: 'TCP' }],
              rules: {
                http: [
                  { method: 'GET', path: '/api/v1/items/[0-9]+' },
                  { method: 'POST', path: '/api/v1/items', headers: ['X-Req'] },
                  { method: 'GET|HEAD', path: '/status|/healthz' },
                ],
              },
            },
          ],
        },
        { fromEndpoints: [{ matchLabels: { tier: 'web', 'k8s:io.kubernetes.pod.namespace': `ns-${(n + 1) % NS}` } }], toPorts: [{ ports: [{ port: '9090', protocol: 'TCP' }] }] },
      ],
      egress: [{ toEndpoints: [{}] }, { toEntities: ['kube-apiserver'] }],
    },
  });
}

function policies(): { set: PolicySet; docs: string[] } {
  const docs: string[] = [];
  for (let n = 0; n < NS; n++) for (let k = 0; k < POLICIES_PER_NS; k++) docs.push(policyDoc(n, k));
  return { set: mergePolicySets(docs.map((d, i) => parsePolicyText(d, `p${i}.yaml`))), docs };
}

/** ns per op of `fn` over `iters` calls. */
function measure(iters: number, fn: (i: number) => unknown): number {
  let sink = 0;
  for (let i = 0; i < Math.min(iters, 10_000); i++) if (fn(i)) sink++; // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) if (fn(i)) sink++;
  const ns = Number(process.hrtime.bigint() - t0) / iters;
  if (sink < 0) throw new Error('unreachable');
  return ns;
}

const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

export async function run(log: (line: string) => void): Promise<void> {
  const world = buildWorld();
  const { set } = policies();
  log(`cluster: ${world.endpoints.length} endpoints, ${set.documents.length} policies (${set.rules.length} rules)`);

  const t0 = performance.now();
  let engine: Engine = createEngine({ policies: set, world });
  const fullMs = performance.now() - t0;

  // Pairs exercised on the hot path: a few thousand distinct (src, dst) so lookups hit the memo.
  const eps = world.endpoints;
  const pairs: [Peer, Peer][] = [];
  for (let i = 0; i < 4096; i++) {
    const n = i % NS;
    const dst = eps[n * PER_NS + (i % APPS)];
    const src = eps[n * PER_NS + ((i + 1) % APPS)];
    pairs.push([endpointPeer(src), endpointPeer(dst)]);
  }
  // Baseline: one Map.get of a precomputed verdict per lookup.
  const base = new Map<number, boolean>();
  for (let i = 0; i < pairs.length; i++) base.set(i * 65_536 + 8080, true);
  const baselineNs = measure(2_000_000, (i) => base.get((i & 4095) * 65_536 + 8080));

  for (const [s, d] of pairs) engine.evaluate(s, d, 8080, 'TCP', null); // populate the compiled map
  const l4Ns = measure(1_000_000, (i) => {
    const [s, d] = pairs[i & 4095];
    return engine.evaluate(s, d, 8080, 'TCP', null).allowed;
  });

  // Random working set: distinct (source, destination, port) triples drawn with a seeded PRNG
  // over all 10,000 endpoints and a spread of ports, on a fresh engine (nothing memoized yet).
  const RANDOM_TRIPLES = 65_536;
  const PORTS = [80, 443, 8080, 8081, 9090, 5432, 6379, 3306, 53, 15000];
  let seed = 0x9e3779b9;
  const rnd = (n: number): number => {
    seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
    return seed % n;
  };
  const seen = new Set<string>();
  const triples: Array<[Peer, Peer, number]> = [];
  while (triples.length < RANDOM_TRIPLES) {
    const si = rnd(eps.length);
    const di = rnd(eps.length);
    const port = PORTS[rnd(PORTS.length)]!;
    const k = `${si}/${di}/${port}`;
    if (si === di || seen.has(k)) continue;
    seen.add(k);
    triples.push([endpointPeer(eps[si]), endpointPeer(eps[di]), port]);
  }
  const cold = createEngine({ policies: set, world });
  const r0 = process.hrtime.bigint();
  let allowedCold = 0;
  for (const [s, d, p] of triples) if (cold.evaluate(s, d, p, 'TCP', null).allowed) allowedCold++;
  const randomFirstNs = Number(process.hrtime.bigint() - r0) / triples.length;
  const randomRepeatNs = measure(1_000_000, (i) => {
    const [s, d, p] = triples[(i * 40_503) & (RANDOM_TRIPLES - 1)]!;
    return cold.evaluate(s, d, p, 'TCP', null).allowed;
  });

  const conns = pairs.slice(0, 256).map(([s, d]) =>
    engine.connection({ from: { endpoint: s.endpoint!.id }, to: { endpoint: d.endpoint!.id }, port: 8080, protocol: 'TCP' }),
  );
  const reqs = [
    { method: 'GET', path: '/api/v1/items/12345', host: 'svc', headers: {} },
    { method: 'POST', path: '/api/v1/items', host: 'svc', headers: { 'x-req': '1' } },
    { method: 'DELETE', path: '/api/v1/items/1', host: 'svc', headers: {} },
    { method: 'HEAD', path: '/healthz', host: 'svc', headers: {} },
  ];
  const l7Ns = measure(500_000, (i) => conns[i & 255].judgeHttp(reqs[i & 3]).allowed);
  const connNs = measure(200_000, (i) => {
    const [s, d] = pairs[i & 4095];
    return engine.connection({ from: { endpoint: s.endpoint!.id }, to: { endpoint: d.endpoint!.id }, port: 8080, protocol: 'TCP' }).verdict.allowed;
  });

  // Eager compile: every identity's ingress plan from every identity of its namespace on 8080.
  const reps = new Map<string, (typeof eps)[number]>();
  for (const ep of eps) if (!reps.has(ep.identity.id)) reps.set(ep.identity.id, ep);
  const byNs = new Map<string, (typeof eps)[number][]>();
  for (const ep of reps.values()) byNs.set(ep.namespace, [...(byNs.get(ep.namespace) ?? []), ep]);
  const fresh = createEngine({ policies: set, world });
  const g0 = performance.now();
  let plans = 0;
  for (const group of byNs.values()) {
    for (const dst of group) for (const src of group) {
      fresh.plan(dst, 'ingress', endpointPeer(src), 'TCP', 8080);
      plans++;
    }
  }
  const eagerMs = performance.now() - g0;

  // One policy change: replace p-3 in ns-42 with a variant on another port, then swap.
  const changed = parsePolicyText(policyDoc(42, 3, 1), 'changed.yaml');
  const next: PolicySet = { ...set, rules: [...set.rules.filter((r) => r.policy !== 'ns-42/p-3'), ...changed.rules] };
  const c0 = performance.now();
  const engine2 = engine.withPolicies(next);
  const changeMs = performance.now() - c0;
  engine = engine2;

  // Regex engines on the HTTP path rule, including a catastrophic-backtracking pattern.
  const paths = ['/api/v1/items/12345', '/api/v1/items/x', '/other/path/that/is/longer'];
  const evilInput = `${'a'.repeat(22)}c`;
  const regex: Record<string, { ns: number; evilMs: number }> = {};
  for (const eng of ['js', 're2'] as const) {
    const ok = eng === 're2' ? re2Matcher('/api/v1/items/[0-9]+') : compileRe2('/api/v1/items/[0-9]+', eng);
    const evil = eng === 're2' ? re2Matcher('(a+)+b') : compileRe2('(a+)+b', eng);
    if (ok === null || evil === null || typeof ok === 'string' || typeof evil === 'string') continue;
    const ns = measure(1_000_000, (i) => ok.matcher(paths[i % 3]));
    const e0 = performance.now();
    evil.matcher(evilInput);
    regex[eng] = { ns, evilMs: performance.now() - e0 };
  }
  // Per pattern class (policy/regex-class.ts): what the engine picks, against RE2 on the same pattern.
  const classRows: string[] = [];
  const probes = ['/api/v1/items/12345', '/api/v1/payments/42', '/files/report/raw', '/static/site/main.css', '/api/v2/items/9', '/other/path/that/is/longer/than/the/rest'];
  for (const pattern of ['/api/v1/payments/.*', '/api/v1/items/[0-9]+', '/files/[^/]+/raw', '/static/.*\\.css', '/api/(v1|v2)/items/[0-9]+']) {
    const picked = compileRe2(pattern);
    const ref = re2Matcher(pattern);
    if (typeof picked === 'string') continue;
    const nsPicked = measure(1_000_000, (i) => picked.matcher(probes[i % probes.length]!));
    const nsRef = ref === null ? NaN : measure(1_000_000, (i) => ref.matcher(probes[i % probes.length]!));
    classRows.push(
      `regex class ${classifyRegex(pattern).class.padEnd(17)} ${pattern.padEnd(28)} engine ${picked.engine === 'js' ? 'V8 ' : 'RE2'}: ${fmt(nsPicked)} ns/op; RE2 on the same pattern ${fmt(nsRef)} ns/op (${fmt(nsRef / nsPicked)}x)`,
    );
  }

  log(`baseline Map.get lookup: ${fmt(baselineNs)} ns/op`);
  log(`memoized: side plans per (subject identity, direction, peer identity, protocol, port), capped at 1,000,000 plans; L3/L4 verdicts per (egress plan, ingress plan); compiled selectors. Nothing is memoized per request payload.`);
  log(`L3/L4 verdict, RANDOM working set of ${triples.length} distinct (src, dst, port) triples (${allowedCold} allowed):`);
  log(`  first touch (fresh engine, plans computed): ${fmt(randomFirstNs)} ns/op = ${fmt(randomFirstNs / baselineNs)}x baseline; ${fmt(1e9 / randomFirstNs)} verdicts/s`);
  log(`  repeated, random order over the whole set:  ${fmt(randomRepeatNs)} ns/op = ${fmt(randomRepeatNs / baselineNs)}x baseline; ${fmt(1e9 / randomRepeatNs)} verdicts/s`);
  log(`L3/L4 verdict, HOT set of ${pairs.length} repeated pairs (memoized map): ${fmt(l4Ns)} ns/op = ${fmt(l4Ns / baselineNs)}x baseline; ${fmt(1e9 / l4Ns)} verdicts/s; ${fmt(l4Ns / 1000)}x of the 1 µs target`);
  log(`engine.connection(ns/pod refs): ${fmt(connNs)} ns/op = ${fmt(connNs / baselineNs)}x baseline (per connection, resolves names)`);
  log(`HTTP L7 verdict (judgeHttp):    ${fmt(l7Ns)} ns/op = ${fmt(l7Ns / baselineNs)}x baseline; ${fmt(1e9 / l7Ns)} verdicts/s; ${fmt(l7Ns / 5000)}x of the 5 µs target`);
  log(`full resolution:                ${fmt(fullMs)} ms = ${fmt(fullMs / 2000)}x of the 2 s target`);
  log(`eager compile of ${plans} (identity, peer, port) entries: ${fmt(eagerMs)} ms (${fmt((eagerMs * 1e6) / plans)} ns/entry); resolution + eager = ${fmt((fullMs + eagerMs) / 2000)}x of the 2 s target`);
  log(`one-policy change (withPolicies): ${fmt(changeMs)} ms = ${fmt(changeMs / 50)}x of the 50 ms target`);
  const js = regex.js;
  log(`regex JS RegExp ^(?:...)$ path match: ${fmt(js.ns)} ns/op = ${fmt(js.ns / baselineNs)}x baseline; (a+)+b on 22 a's + c: ${fmt(js.evilMs)} ms`);
  const re2 = regex.re2;
  if (re2) {
    log(`regex RE2 (re2 package) path match:  ${fmt(re2.ns)} ns/op = ${fmt(re2.ns / js.ns)}x JS RegExp; (a+)+b on 22 a's + c: ${fmt(re2.evilMs)} ms (JS RegExp takes ${fmt(js.evilMs / Math.max(re2.evilMs, 1e-3))}x as long, and doubles per extra 'a')`);
  } else {
    log('regex RE2: the re2 package is not built here (native module); only JS RegExp measured');
  }
  log(`policy engine regex engine in use: ${defaultRegexEngine} (V8 RegExp for patterns proven linear)`);
  for (const r of classRows) log(r);
  await runChangeToEnforced(log);
}

/** A matcher straight on the re2 package (the bench's reference), or null when it is not built. */
function re2Matcher(pattern: string): { matcher: (v: string) => boolean } | null {
  try {
    const RE2 = createRequire(import.meta.url)('re2') as new (p: string) => { test(s: string): boolean };
    const re = new RE2(`^(?:${pattern})$`);
    return { matcher: (v) => re.test(v) };
  } catch {
    return null;
  }
}

/**
 * Change-to-enforced latency through the agent's live standalone source (agent/policy-source.ts):
 * 1,000 policy files and a 10,000-endpoint world.yaml on disk, watched; one file is rewritten
 * (atomic rename) and the clock stops when the swapped engine answers the changed verdict. The
 * baseline, measured in the same run, is what a restart costs the policy layer alone: re-read
 * and re-parse every file and compile a fresh engine (a restart also drops connections, not
 * counted here). Covers: inotify delivery, the 25 ms debounce, re-reading 1,000 files, parsing
 * the changed one, the incremental engine update and the swap. Not covered: datapath map writes
 * (no BPF in this suite; see `npm run bench -- datapath`).
 */
export async function runChangeToEnforced(log: (line: string) => void): Promise<void> {
  const { mkdtempSync, writeFileSync, renameSync, rmSync, mkdirSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  const { default: pino } = await import('pino');
  const { startStandalonePolicy } = await import('../agent/policy-source.js');
  const { loadConfig } = await import('../config/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'tendril-bench-live-'));
  try {
    const pdir = join(dir, 'policies');
    mkdirSync(pdir);
    for (let n = 0; n < NS; n++) for (let k = 0; k < POLICIES_PER_NS; k++) writeFileSync(join(pdir, `ns-${n}-p-${k}.yaml`), policyDoc(n, k));
    const endpoints = [];
    for (let n = 0; n < NS; n++) for (let i = 0; i < PER_NS; i++) endpoints.push({ name: `pod-${i}`, namespace: `ns-${n}`, labels: { app: `app-${i % APPS}`, tier: i % 2 ? 'web' : 'db' }, ips: [`10.${n}.${Math.floor(i / 250)}.${(i % 250) + 1}`] });
    const worldFile = join(dir, 'world.yaml');
    writeFileSync(worldFile, stringify({ namespaces: Array.from({ length: NS }, (_, n) => ({ name: `ns-${n}`, labels: { team: `t${n % 7}` } })), endpoints }));
    const config = loadConfig({ env: {}, sets: [`standalone.policies=[${pdir}]`, `standalone.world=${worldFile}`] });
    const silent = pino({ level: 'silent' });

    const b0 = performance.now();
    const cold = startStandalonePolicy(config, silent, { watch: false });
    const restartMs = performance.now() - b0;
    cold.source.close();

    const { state, source } = startStandalonePolicy(config, silent, { resyncMs: 0 });
    const q = (port: number) => ({ from: { endpoint: 'ns-42/pod-4' }, to: { endpoint: 'ns-42/pod-3' }, port, protocol: 'TCP' as const });
    const samples: number[] = [];
    const target = join(pdir, 'ns-42-p-3.yaml');
    for (let round = 1; round <= 10; round++) {
      const variant = round % 2; // alternate 8081 and 8080
      const port = 8080 + variant;
      const before = state.engine.version;
      const t0 = performance.now();
      writeFileSync(`${target}.tmp`, policyDoc(42, 3, variant));
      renameSync(`${target}.tmp`, target);
      for (;;) {
        if (state.engine.version !== before && state.engine.connection(q(port)).verdict.allowed) break;
        if (performance.now() - t0 > 30_000) throw new Error('change not enforced within 30 s');
        await new Promise((r) => setTimeout(r, 1));
      }
      samples.push(performance.now() - t0);
    }
    source.close();
    samples.sort((a, b) => a - b);
    const median = samples[Math.floor(samples.length / 2)]!;
    log(`change-to-enforced (1 of ${NS * POLICIES_PER_NS} policy files rewritten, ${endpoints.length} endpoints, watched): median ${fmt(median)} ms, max ${fmt(samples[samples.length - 1]!)} ms over ${samples.length} changes (includes the 25 ms debounce)`);
    log(`baseline: restart of the policy layer (read + parse 1,000 files + full compile): ${fmt(restartMs)} ms; live change = ${fmt(median / restartMs)}x of it`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
