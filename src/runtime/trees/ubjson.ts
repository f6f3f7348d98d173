// Owns: decoding Universal Binary JSON (ubjson.org, draft 12, big-endian), the format of XGBoost's `model.ubj`
// (`save_model("model.ubj")`, XGBoost 2's default), into the same plain values JSON.parse returns, so one reader
// handles both formats. Optimised containers (`$` type, `#` count) become plain arrays and objects.
import { TiffinError } from '../../errors/index.ts';

/** Deeper nesting than any model file has: a hostile file must not exhaust the stack. */
const MAX_DEPTH = 128;
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Decoder {
  private at = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(message: string): never {
    throw new TiffinError('MODEL_INVALID', `${this.file} is not valid UBJSON: ${message} at byte ${this.at}`);
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.length) this.fail(`the file ends early (${n} more bytes needed)`);
  }

  private marker(): string {
    this.need(1);
    return String.fromCharCode(this.bytes[this.at++]!);
  }

  private peek(): string {
    this.need(1);
    return String.fromCharCode(this.bytes[this.at]!);
  }

  /** A value of the type `type` (its marker already read). */
  private typed(type: string, depth: number): unknown {
    const v = this.view;
    switch (type) {
      case 'Z': return null;
      case 'T': return true;
      case 'F': return false;
      case 'i': this.need(1); return v.getInt8(this.at++);
      case 'U': this.need(1); return v.getUint8(this.at++);
      case 'I': this.need(2); this.at += 2; return v.getInt16(this.at - 2);
      case 'l': this.need(4); this.at += 4; return v.getInt32(this.at - 4);
      case 'L': {
        this.need(8);
        const n = v.getBigInt64(this.at);
        this.at += 8;
        if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`integer ${n} is too large`);
        return Number(n);
      }
      case 'd': this.need(4); this.at += 4; return v.getFloat32(this.at - 4);
      case 'D': this.need(8); this.at += 8; return v.getFloat64(this.at - 8);
      case 'C': this.need(1); return String.fromCharCode(this.bytes[this.at++]!);
      case 'S': return this.string();
      case 'H': {
        const n = Number(this.string());
        if (Number.isNaN(n)) this.fail('a high-precision number is not a number');
        return n;
      }
      case '[': return this.array(depth + 1);
      case '{': return this.object(depth + 1);
      default: return this.fail(`unknown type marker "${type}"`);
    }
  }

  private count(): number {
    const n = this.typed(this.marker(), MAX_DEPTH);
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) this.fail('a length is not a non-negative integer');
    return n;
  }

  private string(): string {
    const n = this.count();
    this.need(n);
    const s = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    try {
      return utf8.decode(s);
    } catch {
      return this.fail('a string is not UTF-8');
    }
  }

  /** After `[` or `{`: an optional `$type` and `#count`. */
  private header(): { type?: string; count?: number } {
    let type: string | undefined;
    if (this.peek() === '$') {
      this.at++;
      type = this.marker();
      if (this.peek() !== '#') this.fail('a typed container has no count');
    }
    if (this.peek() === '#') {
      this.at++;
      const count = this.count();
      // Each element takes at least a byte unless the type has no payload: a count larger than the file is a lie.
      if (type !== 'Z' && type !== 'T' && type !== 'F' && count > this.bytes.length - this.at) this.fail(`a container claims ${count} elements`);
      return { type, count };
    }
    return {};
  }

  private array(depth: number): unknown[] {
    if (depth > MAX_DEPTH) this.fail('containers are nested too deeply');
    const { type, count } = this.header();
    const out: unknown[] = [];
    if (count !== undefined) {
      for (let i = 0; i < count; i++) out.push(this.typed(type ?? this.marker(), depth));
      return out;
    }
    for (;;) {
      const m = this.marker();
      if (m === ']') return out;
      if (m !== 'N') out.push(this.typed(m, depth));
    }
  }

  private object(depth: number): Record<string, unknown> {
    if (depth > MAX_DEPTH) this.fail('containers are nested too deeply');
    const { type, count } = this.header();
    const out: Record<string, unknown> = {};
    const put = (key: string, value: unknown) => {
      // Defined as own data properties, so a key such as "__proto__" cannot change the object's prototype.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    };
    if (count !== undefined) {
      for (let i = 0; i < count; i++) put(this.string(), this.typed(type ?? this.marker(), depth));
      return out;
    }
    for (;;) {
      if (this.peek() === '}') {
        this.at++;
        return out;
      }
      if (this.peek() === 'N') {
        this.at++;
        continue;
      }
      const key = this.string();
      put(key, this.typed(this.marker(), depth));
    }
  }

  document(): unknown {
    const value = this.typed(this.marker(), 0);
    if (this.at !== this.bytes.length) this.fail(`${this.bytes.length - this.at} bytes follow the document`);
    return value;
  }
}

/** Decodes one UBJSON document; `file` names it in messages. */
export function decodeUbjson(bytes: Uint8Array, file: string): unknown {
  return new Decoder(bytes, file).document();
}
