/**
 * A RedirectSource that asks several sources in order and takes the first answer: with the
 * datapath running, a listener first asks the BPF tuple map (transparent mode: the connection was
 * steered here by connect4 and its original destination is recorded), then falls back to the
 * listener's explicit redirect (a client that dialled the proxy address directly).
 */
import type net from 'node:net';
import type { RedirectSource, RedirectTarget } from '../proxy/index.js';

type SyncSource = RedirectSource & { resolveSync?: (socket: net.Socket) => RedirectTarget | null };

export class ChainedRedirectSource implements RedirectSource {
  /**
   * The listener's synchronous fast path; present only when every source in the chain is
   * synchronous, so the listener falls back to `resolve()` otherwise.
   */
  readonly resolveSync?: (socket: net.Socket) => RedirectTarget | null;

  constructor(private readonly sources: readonly SyncSource[]) {
    if (sources.every((s) => typeof s.resolveSync === 'function')) {
      this.resolveSync = (socket) => {
        for (const s of sources) {
          const target = s.resolveSync!(socket);
          if (target) return target;
        }
        return null;
      };
    }
  }

  async resolve(socket: net.Socket): Promise<RedirectTarget | null> {
    for (const s of this.sources) {
      const target = await s.resolve(socket);
      if (target) return target;
    }
    return null;
  }
}
