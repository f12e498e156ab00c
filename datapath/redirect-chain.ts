/**
 * A RedirectSource that asks several sources in order and takes the first answer: with the
 * datapath running, a listener first asks the BPF tuple map (transparent mode: the connection was
 * steered here by connect4 and its original destination is recorded), then falls back to the
 * listener's explicit redirect (a client that dialled the proxy address directly).
 */
import type net from 'node:net';
import type { RedirectSource, RedirectTarget } from '../proxy/index.js';

export class ChainedRedirectSource implements RedirectSource {
  constructor(private readonly sources: readonly RedirectSource[]) {}

  resolve(socket: net.Socket): RedirectTarget | null {
    for (const s of this.sources) {
      const target = s.resolve(socket);
      if (target) return target;
    }
    return null;
  }
}
