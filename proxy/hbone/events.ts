/** What the tunnel reports (turned into flows and metrics by its owner). */
export type TunnelEvent =
  | { kind: 'handshake'; side: 'client' | 'server'; ok: true; local: string; peer: string; remote: string; durationMs: number }
  | { kind: 'handshake'; side: 'client' | 'server'; ok: false; local: string; peer: string | null; remote: string; code: string; reason: string }
  | { kind: 'stream-refused'; status: number; reason: string; peer: string; authority: string; source: string | null }
  | { kind: 'stream'; peer: string; authority: string; source: string | null }
  | { kind: 'session-closed'; side: 'client' | 'server'; reason: 'expiry' | 'closed' | 'error'; local: string; peer: string };
