/**
 * Node encryption as an agent Component (docs/wireguard.md). `encryption.enabled: true` with
 * `encryption.type: wireguard` runs the WireGuard manager; a machine that cannot run it (no root,
 * no wireguard-go or /dev/net/tun) is refused before anything starts (TND_WIREGUARD_UNSUPPORTED,
 * exit 2), never accepted and shown as on. Standalone: the node list is world.yaml `nodes`, this
 * node is `nodeName`, each key is read from the annotation `network.cilium.io/wg-pub-key`, and
 * this node's own key is published in `<stateDir>/public.key` (and `tendril status`).
 * Kubernetes: a node source calls `setNodes()` and publishes `onPublicKey()` in the same annotation.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { TendrilError } from '../core/index.js';
import type { WorldNode } from '../policy/index.js';
import { WireGuardManager, nodeFromAnnotations, wireguardSupport, type NodeInfo, type PublicKey, type ReconcileResult } from '../wireguard/index.js';
import type { Component } from './agent.js';

export interface EncryptionComponent extends Component {
  readonly name: 'encryption';
  /** The node-list input: any node source feeds the full list here. */
  setNodes(nodes: NodeInfo[]): Promise<ReconcileResult>;
  /** Publication hook for this node's public key (called at start and after each rotation). */
  onPublicKey(fn: (key: PublicKey) => void): void;
  rotateKey(): Promise<PublicKey>;
}

/** World nodes as the manager's node list. */
export function worldNodeList(nodes: WorldNode[] | undefined): NodeInfo[] {
  // A node without a known address cannot be a WireGuard peer (no endpoint to send to).
  return (nodes ?? []).flatMap((n) => (n.address === null ? [] : [nodeFromAnnotations({ name: n.name, address: n.address, podCIDRs: n.podCIDRs, annotations: n.annotations })]));
}

/**
 * The component, or null when encryption is off. Throws TND_WIREGUARD_UNSUPPORTED (exit 2)
 * when it is on and cannot run here.
 */
export function encryptionComponent(args: { config: Config; log: Logger; worldNodes?: WorldNode[]; refreshMs?: number }): EncryptionComponent | null {
  const enc = args.config.encryption;
  if (!enc.enabled) return null;
  if (enc.type !== 'wireguard') {
    throw new TendrilError('TND_CONFIG_INVALID', `encryption.type: "${String(enc.type)}" is not supported (only wireguard); set encryption.enabled: false or encryption.type: wireguard`, { field: 'encryption.type' });
  }
  const support = wireguardSupport();
  if (support.backend === null) {
    throw new TendrilError(
      'TND_WIREGUARD_UNSUPPORTED',
      `encryption.enabled: true with encryption.type: wireguard cannot run on this machine: ${support.reason}; set encryption.enabled: false to run without node encryption`,
      { field: 'encryption.enabled' },
    );
  }
  const log = args.log.child({ component: 'encryption' });
  const manager = new WireGuardManager({
    nodeName: args.config.nodeName,
    ifname: enc.wireguard.interface,
    listenPort: enc.wireguard.port,
    persistentKeepalive: Math.round(enc.wireguard.persistentKeepalive / 1000),
    stateDir: enc.wireguard.stateDir,
    wireguardGo: support.binary,
    refreshMs: args.refreshMs ?? 5000,
    log,
  });
  const initial = worldNodeList(args.worldNodes);
  return {
    name: 'encryption',
    async start() {
      if (initial.length) await manager.setNodes(initial);
      await manager.start();
    },
    stop: () => manager.stop(),
    status: () => ({ ...manager.status() }),
    setNodes: (nodes) => manager.setNodes(nodes),
    onPublicKey: (fn) => manager.onPublicKey(fn),
    rotateKey: () => manager.rotateKey(),
  };
}
