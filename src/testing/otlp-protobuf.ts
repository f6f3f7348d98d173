// Owns: reading OTLP/HTTP protobuf trace exports back, for tests and the benchmark's collector stand-in (never
// imported by library code). Decodes just the fields those check, into the shape of OTLP's JSON encoding
// (ids as hex strings), so one set of assertions covers both encodings. Field numbers from
// opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto.
import protobuf from 'protobufjs';

type Field = { no: number; wire: number; value: bigint | Uint8Array };

/** The fields of one protobuf message, in order (protobufjs's Reader does the wire format; it throws on a
 * truncated message). */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  const r = protobuf.Reader.create(buf);
  while (r.pos < r.len) {
    const key = r.uint32();
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: BigInt(r.uint64().toString()) });
    else if (wire === 1) out.push({ no, wire, value: BigInt(r.fixed64().toString()) });
    else if (wire === 5) out.push({ no, wire, value: BigInt(r.fixed32()) });
    else if (wire === 2) out.push({ no, wire, value: r.bytes() });
    else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

const all = (fs: Field[], no: number): Uint8Array[] => fs.filter((f) => f.no === no && f.wire === 2).map((f) => f.value as Uint8Array);
const one = (fs: Field[], no: number): Uint8Array | undefined => all(fs, no)[0];
const num = (fs: Field[], no: number): number => Number((fs.find((f) => f.no === no && f.wire !== 2)?.value as bigint | undefined) ?? 0n);
const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined || b.length === 0 ? undefined : Buffer.from(b).toString('hex'));

export interface DecodedKeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };
}

function keyValue(b: Uint8Array): DecodedKeyValue {
  const f = fields(b);
  const v = fields(one(f, 2) ?? new Uint8Array());
  const value: DecodedKeyValue['value'] = {};
  const s = one(v, 1);
  if (s !== undefined) value.stringValue = text(s);
  const bool = v.find((x) => x.no === 2);
  if (bool) value.boolValue = bool.value === 1n;
  const int = v.find((x) => x.no === 3);
  if (int) value.intValue = BigInt.asIntN(64, int.value as bigint).toString();
  const dbl = v.find((x) => x.no === 4 && x.wire === 1);
  if (dbl) value.doubleValue = new Float64Array(new BigUint64Array([dbl.value as bigint]).buffer)[0];
  return { key: text(one(f, 1)) ?? '', value };
}

export interface DecodedSpan {
  traceId: string | undefined;
  spanId: string | undefined;
  traceState?: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: DecodedKeyValue[];
  events: { name: string; attributes: DecodedKeyValue[] }[];
  links: { traceId: string | undefined; spanId: string | undefined }[];
  status: { code: number; message?: string };
}

export interface DecodedTraceRequest {
  resourceSpans: {
    resource: { attributes: DecodedKeyValue[] };
    scopeSpans: { scope: { name: string; version?: string }; spans: DecodedSpan[] }[];
  }[];
}

function span(b: Uint8Array): DecodedSpan {
  const f = fields(b);
  const status = fields(one(f, 15) ?? new Uint8Array());
  const out: DecodedSpan = {
    traceId: hex(one(f, 1)),
    spanId: hex(one(f, 2)),
    name: text(one(f, 5)) ?? '',
    kind: num(f, 6),
    attributes: all(f, 9).map(keyValue),
    events: all(f, 11).map((e) => {
      const ef = fields(e);
      return { name: text(one(ef, 2)) ?? '', attributes: all(ef, 3).map(keyValue) };
    }),
    links: all(f, 13).map((l) => {
      const lf = fields(l);
      return { traceId: hex(one(lf, 1)), spanId: hex(one(lf, 2)) };
    }),
    status: { code: num(status, 3) },
  };
  const traceState = text(one(f, 3));
  if (traceState) out.traceState = traceState;
  const parent = hex(one(f, 4));
  if (parent) out.parentSpanId = parent;
  const message = text(one(status, 2));
  if (message) out.status.message = message;
  return out;
}

/** Decodes an ExportTraceServiceRequest (the body of a POST to /v1/traces with application/x-protobuf). */
export function decodeTraceRequest(body: Uint8Array): DecodedTraceRequest {
  return {
    resourceSpans: all(fields(body), 1).map((rsb) => {
      const rs = fields(rsb);
      const resource = fields(one(rs, 1) ?? new Uint8Array());
      return {
        resource: { attributes: all(resource, 1).map(keyValue) },
        scopeSpans: all(rs, 2).map((ssb) => {
          const ss = fields(ssb);
          const scope = fields(one(ss, 1) ?? new Uint8Array());
          const version = text(one(scope, 2));
          return { scope: { name: text(one(scope, 1)) ?? '', ...(version ? { version } : {}) }, spans: all(ss, 2).map(span) };
        }),
      };
    }),
  };
}

/** Spans in an ExportTraceServiceRequest, without decoding them (what a collector stand-in needs to count). */
export function countSpans(body: Uint8Array): number {
  let n = 0;
  for (const rs of all(fields(body), 1)) for (const ss of all(fields(rs), 2)) n += all(fields(ss), 2).length;
  return n;
}
