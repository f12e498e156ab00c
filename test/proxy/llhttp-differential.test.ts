/**
 * The engine parses with llhttp as undici ships it (WebAssembly); node:http runs llhttp natively.
 * Differential check that both accept and reject the same bytes and see the same messages, on
 * every input class of docs/http-hardening-rules.md (framing, chunked bodies, request line and
 * target, header syntax, pipelining, upgrade/CONNECT) plus random byte mutations of them.
 *
 * The reference is node's own parser binding (`process.binding('http_parser')`, deprecated and
 * used here ONLY as the test oracle), initialized as node:http does with no lenient flag.
 * Node-only limits (header size, chunk-extension size) are node:http's C++ wrapper, not llhttp:
 * the engine enforces its own (test/proxy/upstream-failures.test.ts, smuggling.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HPE, Parser, TYPE_REQUEST, type ParserEvents } from '../../proxy/http/llhttp.js';

interface Msg {
  method: string;
  url: string;
  version: string;
  headers: string[];
  body: string;
  upgrade: boolean;
  keepAlive: boolean;
}
interface Outcome {
  messages: Msg[];
  /** llhttp error name, or 'upgrade' when parsing stopped for a protocol switch, or null. */
  end: string | null;
}

type NodeParser = {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(b: Buffer): number | (Error & { code: string });
  finish(): unknown;
  [k: number]: unknown;
};
const binding = (process as unknown as { binding(n: string): { HTTPParser: { new (): NodeParser; REQUEST: number; kOnHeaders: number; kOnHeadersComplete: number; kOnBody: number; kOnMessageComplete: number }; allMethods: string[] } }).binding('http_parser');

function viaNode(bytes: Buffer): Outcome {
  const { HTTPParser, allMethods: methods } = binding;
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 1 << 24, 0);
  const messages: Msg[] = [];
  let partial: string[] = [];
  let partialUrl = '';
  let upgraded = false;
  p[HTTPParser.kOnHeaders] = (h: string[], url: string) => {
    partial = partial.concat(h);
    partialUrl += url;
  };
  p[HTTPParser.kOnHeadersComplete] = (maj: number, min: number, h: string[] | undefined, method: number, url: string | undefined, _s: unknown, _m: unknown, upgrade: boolean, keepAlive: boolean) => {
    messages.push({ method: methods[method]!, url: partialUrl + (url ?? ''), version: `${maj}.${min}`, headers: partial.concat(h ?? []), body: '', upgrade, keepAlive });
    partial = [];
    partialUrl = '';
    upgraded = upgrade;
    return 0;
  };
  p[HTTPParser.kOnBody] = (b: Buffer) => {
    messages.at(-1)!.body += b.toString('latin1');
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    // Trailer fields reach kOnHeaders at the end of a chunked message: not the next message's headers.
    partial = [];
    partialUrl = '';
  };
  const r = p.execute(bytes);
  if (typeof r !== 'number') return { messages, end: r.code };
  return { messages, end: upgraded ? 'upgrade' : null };
}

function viaEngine(bytes: Buffer): Outcome {
  const messages: Msg[] = [];
  let url = '';
  let headers: string[] = [];
  let field = '';
  let value = '';
  let inValue = false;
  const parser: Parser = new Parser(TYPE_REQUEST, {
    onMessageBegin: () => {
      url = '';
      headers = [];
      field = '';
      value = '';
      inValue = false;
      return 0;
    },
    onUrl: (c, s, e) => ((url += c.toString('latin1', s, e)), 0),
    onStatus: () => 0,
    onHeaderField: (c, s, e) => {
      if (inValue) {
        headers.push(field, value.replace(/[ \t]+$/, ''));
        field = '';
        value = '';
        inValue = false;
      }
      field += c.toString('latin1', s, e);
      return 0;
    },
    onHeaderValue: (c, s, e) => {
      inValue = true;
      value += c.toString('latin1', s, e);
      return 0;
    },
    onHeadersComplete: (_st, upgrade, keepAlive) => {
      if (inValue || field.length > 0) headers.push(field, value.replace(/[ \t]+$/, ''));
      field = '';
      value = '';
      inValue = false;
      messages.push({ method: parser.method(), url, version: parser.version(), headers, body: '', upgrade, keepAlive });
      headers = []; // trailer fields (after the body) are not the message's headers: neither side compares them
      return 0;
    },
    onBody: (c, s, e) => ((messages.at(-1)!.body += c.toString('latin1', s, e)), 0),
    onMessageComplete: () => 0,
  } satisfies ParserEvents);
  try {
    const r = parser.execute(bytes);
    if (r.errno === HPE.OK) return { messages, end: null };
    if (r.errno === HPE.PAUSED_UPGRADE) return { messages, end: 'upgrade' };
    return { messages, end: Parser.errnoName(r.errno) };
  } finally {
    parser.free();
  }
}

const H = 'Host: a\r\n';
/** One or more seeds per input class of docs/http-hardening-rules.md. */
const seeds: Array<[string, string]> = [
  ['plain GET', `GET /api/v1/x?y=1 HTTP/1.1\r\n${H}\r\n`],
  ['pipelined', `GET /1 HTTP/1.1\r\n${H}\r\nDELETE /2 HTTP/1.1\r\n${H}\r\n`],
  ['CL body', `POST /p HTTP/1.1\r\n${H}Content-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\n${H}\r\n`],
  ['TE+CL', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n`],
  ['duplicate CL', `POST /p HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`],
  ['CL list', `POST /p HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello`],
  ['CL sign', `POST /p HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello`],
  ['CL overflow', `POST /p HTTP/1.1\r\n${H}Content-Length: 99999999999999999999999\r\n\r\n`],
  ['TE list', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n`],
  ['TE not last', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`],
  ['TE case', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: CHUNKED\r\n\r\n3\r\nabc\r\n0\r\n\r\n`],
  ['TE HTTP/1.0', `POST /p HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n`],
  ['obs-fold', `GET / HTTP/1.1\r\n${H}X: a\r\n b\r\n\r\n`],
  ['bare LF', `GET / HTTP/1.1\n${H}\n`],
  ['bare CR', `GET / HTTP/1.1\r\n${H}X: a\rb\r\n\r\n`],
  ['space before colon', `GET / HTTP/1.1\r\n${H}Content-Length : 0\r\n\r\n`],
  ['chunked ext + trailers', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX-T: 1\r\n\r\n`],
  ['chunk size forms', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n 3 \r\nabc\r\n0\r\n\r\n`],
  ['chunk missing CRLF', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3\r\nabcX0\r\n\r\n`],
  ['HTTP/0.9', 'GET /x\r\n\r\n'],
  ['versions', `GET / HTTP/1.2\r\n${H}\r\nGET / HTTP/2.0\r\n${H}\r\n`],
  ['lowercase method', `get / HTTP/1.1\r\n${H}\r\n`],
  ['unknown method', `FOO / HTTP/1.1\r\n${H}\r\n`],
  ['target bytes', `GET /a\tb\x00c\xc3\xa9#f HTTP/1.1\r\n${H}\r\n`],
  ['absolute form', `GET http://u:p@a:80/x HTTP/1.1\r\n${H}\r\n`],
  ['asterisk', `OPTIONS * HTTP/1.1\r\n${H}\r\n`],
  ['h2 preface', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'],
  ['header bytes', `GET / HTTP/1.1\r\n${H}X(A): b\r\n: c\r\n:authority: d\r\nX-\xe9: e\r\nX: a\x00b\r\n\r\n`],
  ['header without colon', `GET / HTTP/1.1\r\n${H}XA\r\n\r\n`],
  ['Connection close then bytes', `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\nGET /x HTTP/1.1\r\n${H}\r\n`],
  ['HTTP/1.0 keep-alive', `GET / HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\nGET /x HTTP/1.0\r\n${H}\r\n`],
  ['websocket upgrade', `GET /ws HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x00`],
  ['h2c upgrade with body', `POST / HTTP/1.1\r\n${H}Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n`],
  ['CONNECT', `CONNECT a:443 HTTP/1.1\r\n${H}\r\nrest`],
  ['Expect', `POST /p HTTP/1.1\r\n${H}Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok`],
  ['chunked trailers cut short', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n3;a=b\r\nabc\r\n0\r\nX-T: 1\r\nG`],
  ['chunked trailers then a request', `POST /p HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\nGET /n HTTP/1.1\r\n${H}\r\n`],
];

for (const [name, bytes] of seeds) {
  test(`llhttp (wasm) = node:http's llhttp: ${name}`, () => {
    const b = Buffer.from(bytes, 'latin1');
    assert.deepEqual(viaEngine(b), viaNode(b));
  });
}

test("llhttp (wasm) = node:http's llhttp on random mutations of every seed", () => {
  const alphabet = ['\r', '\n', ' ', '\t', ':', ',', ';', '\x00', '\x7f', '\xff', '0', '5', 'a', 'f', 'x', 'G', '/', '-', '\r\n', '\r\n\r\n'];
  const mutation = fc.record({
    seed: fc.integer({ min: 0, max: seeds.length - 1 }),
    edits: fc.array(fc.record({ at: fc.nat(), del: fc.integer({ min: 0, max: 3 }), ins: fc.constantFrom(...alphabet) }), { minLength: 1, maxLength: 4 }),
  });
  fc.assert(
    fc.property(mutation, ({ seed, edits }) => {
      let s = seeds[seed]![1];
      for (const e of edits) {
        const at = e.at % (s.length + 1);
        s = s.slice(0, at) + e.ins + s.slice(at + e.del);
      }
      const b = Buffer.from(s, 'latin1');
      assert.deepEqual(viaEngine(b), viaNode(b), JSON.stringify(s));
    }),
    { numRuns: 5000 },
  );
});
