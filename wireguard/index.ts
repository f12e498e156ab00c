/**
 * wireguard/: node encryption with WireGuard (docs/wireguard.md). `WireGuardManager` owns the
 * node key (X25519 via node:crypto, persisted 0600, rotated on demand), the wireguard-go device
 * configured over UAPI, and the peers and pod-CIDR routes reconciled from a node list that any
 * node source feeds (`NodeInfo`; Kubernetes publishes keys in `network.cilium.io/wg-pub-key`).
 * `wireguardSupport()` says whether this machine can run it at all.
 */
export { WireGuardManager, type ManagerOptions, type WireGuardStatus, type PeerStatus, type ReconcileResult } from './manager.js';
export { KeyStore, PRIVATE_KEY_FILE, PUBLIC_KEY_FILE } from './key-store.js';
export { PrivateKey, decodeKey, isPublicKey, publicKeyFromHex, publicKeyToHex, type PublicKey } from './keys.js';
export { WG_PUBKEY_ANNOTATION, canonicalCidr, desiredPeers, endpointOf, nodeFromAnnotations, planPeers, planRoutes, type DesiredPeer, type NodeInfo, type PeerPlan, type SkippedNode } from './peers.js';
export { UAPI_DIR, parseGet, setRequest, uapiGet, uapiSet, uapiSocketPath, type DeviceChange, type DevicePeer, type DeviceState, type PeerChange } from './uapi.js';
export { UserspaceDevice, type DeviceOptions } from './device.js';
export { findOnPath, wireguardSupport, type WireGuardBackend } from './support.js';
