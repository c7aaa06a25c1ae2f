/**
 * State dicts as safetensors bytes (the format of Hugging Face's `safetensors`):
 *   u64 little-endian N | N bytes of JSON header | the data buffer.
 * The header maps each tensor name to { dtype, shape, data_offsets: [begin, end] } (offsets in
 * bytes from the start of the data buffer) and may hold "__metadata__": { string: string }.
 * Tensors are little-endian, row-major. The data buffer must be covered exactly: no holes and
 * no overlaps (the format forbids both), which load() checks along with every size.
 *
 * save() writes tensors in the dict's order, back to back, and pads the header with spaces to a
 * multiple of 8 bytes so the data starts aligned. dtypes: F32, F16, I32, U8, BOOL (a byte, 0 or
 * 1); a file with any other dtype is refused with a DTypeError naming the tensor.
 */
import type { DeviceKind } from '../backend/backend.js';
import { checkDevice } from '../create.js';
import { type DType, ITEM_BYTES, checkShape, numel } from '../dtype.js';
import { DTypeError, FormatError, TandemError } from '../errors.js';
import { Tensor, createTensor } from '../tensor.js';

export type StateDict = Record<string, Tensor>;

const CODE: Record<DType, string> = { f32: 'F32', f16: 'F16', i32: 'I32', u8: 'U8', bool: 'BOOL' };
const FROM_CODE = new Map(Object.entries(CODE).map(([d, c]) => [c, d as DType]));
/** The reference implementation refuses headers past 100 MB; so does this one. */
const MAX_HEADER = 100_000_000;
const META = '__metadata__';

interface Entry { dtype: string; shape: number[]; data_offsets: [number, number] }
interface Checked { name: string; dtype: DType; shape: readonly number[]; begin: number; end: number }

/** The safetensors bytes of `dict` (a record or a Map of name -> tensor, on any device). */
export async function save(dict: StateDict | Map<string, Tensor>, opts: { metadata?: Record<string, string> } = {}): Promise<Uint8Array> {
  const items = dict instanceof Map ? [...dict] : Object.entries(dict);
  const header: Record<string, unknown> = {};
  if (opts.metadata !== undefined) {
    for (const [k, v] of Object.entries(opts.metadata)) {
      if (typeof v !== 'string') throw new TandemError(`save: metadata ${JSON.stringify(k)} must be a string, got ${typeof v}`);
    }
    header[META] = opts.metadata;
  }
  let offset = 0;
  for (const [name, t] of items) {
    if (name === META) throw new TandemError(`save: ${META} is reserved for metadata, not a tensor name`);
    if (!(t instanceof Tensor)) throw new TandemError(`save: ${JSON.stringify(name)} is not a Tensor`);
    t.storage('save'); // a disposed tensor is an error here, before any read starts
    header[name] = { dtype: CODE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + t.byteLength] } satisfies Entry;
    offset += t.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const text = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20); // space padding
  text.set(json);
  const out = new Uint8Array(8 + text.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  const parts = await Promise.all(items.map(([, t]) => t.bytes('save'))); // after each fence; f16 as halves
  let at = 8 + text.length;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The tensors of a safetensors file, created on `device` (default 'cpu'). */
export function load(bytes: Uint8Array | ArrayBuffer, opts: { device?: DeviceKind } = {}): StateDict {
  const device = checkDevice(opts.device, 'load');
  const { entries, data } = parse(bytes);
  const out: StateDict = {};
  try {
    for (const { name, dtype, shape, begin, end } of entries) {
      const raw = data.slice(begin, end); // a copy: aligned, and the caller's bytes stay theirs
      if (dtype === 'bool') {
        const bad = raw.findIndex((v) => v > 1);
        if (bad >= 0) throw new FormatError(`load: ${JSON.stringify(name)} is BOOL but byte ${bad} holds ${raw[bad]} (must be 0 or 1)`);
      }
      out[name] = createTensor(shape, dtype, device, 'load', () => raw);
    }
  } catch (err) {
    for (const t of Object.values(out)) t.dispose();
    throw err;
  }
  return out;
}

/** The "__metadata__" strings of a safetensors file ({} when it has none). */
export function loadMetadata(bytes: Uint8Array | ArrayBuffer): Record<string, string> {
  return parse(bytes).metadata;
}

/** Header and data buffer of a file, every entry checked against the format's rules. */
function parse(input: Uint8Array | ArrayBuffer): { entries: Checked[]; data: Uint8Array; metadata: Record<string, string> } {
  if (!(input instanceof Uint8Array) && !(input instanceof ArrayBuffer)) throw new TandemError('load: expects a Uint8Array or an ArrayBuffer');
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.length < 8) throw new FormatError(`load: ${bytes.length} bytes is too short for a safetensors file (the header length alone is 8)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER, bytes.length - 8))) throw new FormatError(`load: the header claims ${n} bytes, but the file has ${bytes.length - 8} after the length${n > MAX_HEADER ? ` (and the limit is ${MAX_HEADER})` : ''}`);
  const headerBytes = bytes.subarray(8, 8 + Number(n));
  if (headerBytes[0] !== 0x7b) throw new FormatError("load: the header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (e) {
    throw new FormatError(`load: the header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new FormatError('load: the header is not a JSON object');
  const data = bytes.subarray(8 + Number(n));
  let metadata: Record<string, string> = {};
  const entries: Checked[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === META) {
      if (raw === null || typeof raw !== 'object' || Object.values(raw).some((v) => typeof v !== 'string')) throw new FormatError(`load: ${META} must map strings to strings`);
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as Entry;
    if (e === null || typeof e !== 'object' || typeof e.dtype !== 'string' || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) {
      throw new FormatError(`load: the entry of ${JSON.stringify(name)} needs dtype, shape and data_offsets [begin, end]`);
    }
    const dtype = FROM_CODE.get(e.dtype);
    if (dtype === undefined) throw new DTypeError(`load: ${JSON.stringify(name)} has dtype ${e.dtype}; Tandem reads ${[...FROM_CODE.keys()].join(', ')}`);
    let shape: readonly number[];
    try {
      shape = checkShape(e.shape, 'load');
    } catch (err) {
      throw new FormatError(`load: ${JSON.stringify(name)}: ${(err as Error).message}`);
    }
    const [begin, end] = e.data_offsets;
    if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(end) || begin < 0 || end < begin || end > data.length) {
      throw new FormatError(`load: ${JSON.stringify(name)} has data_offsets [${begin}, ${end}] outside the ${data.length}-byte data buffer`);
    }
    const want = numel(shape) * ITEM_BYTES[dtype];
    if (end - begin !== want) throw new FormatError(`load: ${JSON.stringify(name)} (${e.dtype} [${shape.join(', ')}]) needs ${want} bytes, its data_offsets span ${end - begin}`);
    entries.push({ name, dtype, shape, begin, end });
  }
  // Exact cover of the data buffer: sorted by begin, each range starts where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const { name, begin, end } of sorted) {
    if (begin !== covered) {
      throw new FormatError(`load: ${JSON.stringify(name)} starts at byte ${begin} of the data buffer, but the tensors before it end at ${covered} (${begin > covered ? 'a hole' : 'an overlap'})`);
    }
    covered = end;
  }
  if (covered !== data.length) throw new FormatError(`load: the tensors cover ${covered} bytes of a ${data.length}-byte data buffer`);
  return { entries, data, metadata };
}

