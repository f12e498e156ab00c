/**
 * The Datapath: loads sock.bpf.o and tc.bpf.o with a per-run pin root, attaches the socket
 * programs to ONE cgroup the agent owns (never the root cgroup; pods live below it), attaches tc
 * programs to pod interfaces on request, syncs maps incrementally, turns drop events into flows,
 * and releases everything on close(). All attachments are fds held by this process, so a crash
 * detaches them too (pinned maps stay until the next start's sweep or close()).
 */
import { mkdirSync, rmdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { TendrilError } from '../core/index.js';
import {
  BpfObject, RingBufferReader, preparePinRoot, defaultObjectPath, dropEvent, CONFIG_FLAGS, STAT,
  type DropEvent, type PinRoot,
} from '../native/index.js';
import type { Flow } from '../observe/index.js';
import { ServiceSync } from './services.js';
import { PolicyMapSync } from './policy-maps.js';
import { dropEventToFlow } from './drop-flow.js';
import { datapathUnsupportedReason, cgroup2Root } from './support.js';
import { TransparentRedirectSource, type EndpointLookup } from './transparent-source.js';

export const SOCK_PROGRAMS = ['tnd_connect4', 'tnd_sendmsg4', 'tnd_recvmsg4', 'tnd_getpeer4', 'tnd_getsockopt', 'tnd_sockops'] as const;

export interface DatapathOptions {
  log: Logger;
  /**
   * The cgroup the socket programs attach to. Default: `<cgroup2>/tendril-agent-<pid>`, created
   * and removed by the Datapath (standalone mode puts pods under it). Never the cgroup root.
   */
  cgroupDir?: string;
  /** Name of the pin root folder (default `tendril-<pid>`). */
  pinName?: string;
  /** Where a private bpffs is mounted when /sys/fs/bpf is not one (see native/bpffs.ts). */
  pinFallbackParent?: string;
  features?: { sockmap?: boolean; redirect?: boolean };
  /** Resolves addresses to `namespace/pod` for flows and the transparent redirect source. */
  endpointByIp?: EndpointLookup;
  nodeName?: string;
  /** Object paths (defaults: bpf/build/*.bpf.o). */
  objects?: { sock?: string; tc?: string };
}

export class Datapath {
  readonly services: ServiceSync;
  readonly policy: PolicyMapSync;
  readonly cgroupDir: string;
  private readonly log: Logger;
  private readonly pins: PinRoot;
  private readonly sock: BpfObject;
  private readonly tc: BpfObject;
  private readonly createdCgroup: boolean;
  private readonly tcLinks = new Map<string, number[]>();
  private ring: RingBufferReader | null = null;
  private closed = false;
  private readonly endpointByIp: EndpointLookup;
  private readonly nodeName: string;

  private constructor(opts: DatapathOptions, parts: { pins: PinRoot; sock: BpfObject; tc: BpfObject; cgroupDir: string; created: boolean }) {
    this.log = opts.log.child({ component: 'datapath' });
    this.pins = parts.pins;
    this.sock = parts.sock;
    this.tc = parts.tc;
    this.cgroupDir = parts.cgroupDir;
    this.createdCgroup = parts.created;
    this.services = new ServiceSync(this.sock);
    this.policy = new PolicyMapSync(this.sock);
    this.endpointByIp = opts.endpointByIp ?? (() => null);
    this.nodeName = opts.nodeName ?? '';
  }

  /** Loads and attaches; throws TND_DATAPATH_UNSUPPORTED (with the reason) when this host cannot. */
  static start(opts: DatapathOptions): Datapath {
    const reason = datapathUnsupportedReason();
    if (reason) throw new TendrilError('TND_DATAPATH_UNSUPPORTED', reason);
    const root = cgroup2Root()!;
    const cgroupDir = opts.cgroupDir ?? join(root, `tendril-agent-${process.pid}`);
    if (cgroupDir.replace(/\/+$/, '') === root) throw new TendrilError('TND_DATAPATH_UNSUPPORTED', `refusing to use the root cgroup ${root}`, { cgroupDir });
    const created = !existsSync(cgroupDir);
    if (created) mkdirSync(cgroupDir);
    const pins = preparePinRoot(opts.pinName ?? `tendril-${process.pid}`, opts.pinFallbackParent);
    const opened: BpfObject[] = [];
    try {
      const libbpfLog = opts.log.child({ component: 'datapath.libbpf' });
      const sock = BpfObject.open(opts.objects?.sock ?? defaultObjectPath('sock'), { pinRoot: pins.path, log: libbpfLog });
      opened.push(sock);
      const tc = BpfObject.open(opts.objects?.tc ?? defaultObjectPath('tc'), { pinRoot: pins.path, log: libbpfLog });
      opened.push(tc);
      const dp = new Datapath(opts, { pins, sock, tc, cgroupDir, created });
      dp.setFeatures({ sockmap: opts.features?.sockmap ?? true, redirect: opts.features?.redirect ?? true });
      for (const p of SOCK_PROGRAMS) sock.attachCgroup(p, cgroupDir);
      sock.attachSkMsg('tnd_skmsg', 'tendril_sockhash');
      dp.log.info({ cgroupDir, pinRoot: pins.path, privateBpffs: pins.mounted }, 'datapath attached');
      return dp;
    } catch (err) {
      for (const o of opened) o.close({ unpin: true });
      pins.release();
      if (created) rmdirSync(cgroupDir);
      throw err;
    }
  }

  get pinRoot(): string {
    return this.pins.path;
  }

  setFeatures(f: { sockmap: boolean; redirect: boolean }): void {
    const flags = (f.sockmap ? CONFIG_FLAGS.SOCKMAP : 0) | (f.redirect ? CONFIG_FLAGS.REDIRECT : 0);
    this.sock.map('tendril_config').set(0, flags);
  }

  /** Enforces L3/L4 policy on a pod interface: tcx ingress + egress on `ifname` inside `netnsPath`. */
  attachPod(netnsPath: string, ifname: string): void {
    const key = `${netnsPath}#${ifname}`;
    if (this.tcLinks.has(key)) return;
    const links = [this.tc.attachTcx('tnd_tc_ingress', netnsPath, ifname, 'ingress')];
    try {
      links.push(this.tc.attachTcx('tnd_tc_egress', netnsPath, ifname, 'egress'));
    } catch (err) {
      this.tc.detach(links[0]!);
      throw err;
    }
    this.tcLinks.set(key, links);
  }

  detachPod(netnsPath: string, ifname: string): void {
    const key = `${netnsPath}#${ifname}`;
    for (const id of this.tcLinks.get(key) ?? []) this.tc.detach(id);
    this.tcLinks.delete(key);
  }

  /** Starts delivering drop events as flows (and raw events) to `onDrop`. */
  onDrop(onDrop: (flow: Flow, ev: DropEvent) => void): void {
    if (this.ring) throw new TendrilError('TND_INTERNAL_BUG', 'BUG: onDrop registered twice');
    this.ring = this.tc.ringBuffer('tendril_events', (rec) => {
      const ev = dropEvent.decode(rec);
      onDrop(dropEventToFlow(ev, { policyName: (id) => this.policy.ids.name(id), endpointByIp: this.endpointByIp, nodeName: this.nodeName }), ev);
    });
  }

  /** The transparent RedirectSource for the proxy (reads tendril_origdst). */
  redirectSource(): TransparentRedirectSource {
    return new TransparentRedirectSource(this.sock, this.endpointByIp);
  }

  stats(): Record<keyof typeof STAT, bigint> {
    const m = this.sock.map('tendril_stats');
    const out = {} as Record<keyof typeof STAT, bigint>;
    for (const [name, idx] of Object.entries(STAT) as Array<[keyof typeof STAT, number]>) out[name] = m.get(idx) ?? 0n;
    return out;
  }

  /** Number of entries in one of the datapath's maps (diagnostics and tests). */
  debugMapSize(name: 'tendril_origdst' | 'tendril_socknat' | 'tendril_pending' | 'tendril_ct' | 'tendril_policy' | 'tendril_svc'): number {
    return this.sock.map(name).keys().length;
  }

  /** Detaches everything, removes pins (and the private bpffs), and the cgroup it created. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ring?.close();
    this.tc.close({ unpin: true });
    this.sock.close({ unpin: true });
    this.pins.release();
    if (this.createdCgroup) {
      try {
        rmdirSync(this.cgroupDir);
      } catch (err) {
        this.log.warn({ err, cgroupDir: this.cgroupDir }, 'agent cgroup not removed (pods still inside?)');
      }
    }
    this.log.info({}, 'datapath closed');
  }
}
