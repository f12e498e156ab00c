/**
 * tcpdump capture in a netns and a minimal pcap reader (Ethernet, IPv4, UDP/TCP ports), for the
 * WireGuard tests' "the underlay sees only encrypted UDP" checks.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Packet {
  raw: Buffer;
  etherType: number;
  proto: number | null;
  src: string | null;
  dst: string | null;
  sport: number | null;
  dport: number | null;
}

export class Capture {
  private constructor(private readonly child: ChildProcess, readonly file: string) {}

  /** Starts tcpdump on ifname inside nsPath, writing to file; resolves once it listens. */
  static start(nsPath: string, ifname: string, file: string): Promise<Capture> {
    const child = spawn('nsenter', [`--net=${nsPath}`, '--', 'tcpdump', '-i', ifname, '-n', '-U', '-s', '0', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    return new Promise((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`tcpdump did not start: ${err}`));
      }, 10_000);
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/listening on/.test(err)) {
          clearTimeout(timer);
          resolve(new Capture(child, file));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`tcpdump exited ${code}: ${err}`));
      });
    });
  }

  /** Stops the capture and returns its packets. */
  async stop(): Promise<Packet[]> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGINT');
      await exited;
    }
    return readPcap(readFileSync(this.file));
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

export function readPcap(buf: Buffer): Packet[] {
  if (buf.length < 24) return [];
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && buf.readUInt32BE(0) !== 0xa1b2c3d4 && buf.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number): number => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const linktype = u32(20);
  if (linktype !== 1) throw new Error(`pcap linktype ${linktype}, expected Ethernet`);
  const out: Packet[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const incl = u32(off + 8);
    const raw = buf.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    const p: Packet = { raw, etherType: raw.length >= 14 ? raw.readUInt16BE(12) : 0, proto: null, src: null, dst: null, sport: null, dport: null };
    if (p.etherType === 0x0800 && raw.length >= 34) {
      const ihl = (raw[14]! & 0x0f) * 4;
      p.proto = raw[23]!;
      p.src = [...raw.subarray(26, 30)].join('.');
      p.dst = [...raw.subarray(30, 34)].join('.');
      const l4 = 14 + ihl;
      if ((p.proto === 6 || p.proto === 17) && raw.length >= l4 + 4) {
        p.sport = raw.readUInt16BE(l4);
        p.dport = raw.readUInt16BE(l4 + 2);
      }
    }
    out.push(p);
  }
  return out;
}
