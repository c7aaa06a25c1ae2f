/**
 * Programs of the gpu kernels beyond elementwise, sum-like reductions, matmul and 4-byte copy:
 * argmax/argmin, the row kernels (softmax, layerNorm, crossEntropy), compare, where, gather,
 * oneHot, cast, the fused optimizer updates, and 1- and 2-byte copies. Same contract as
 * wgsl-programs.ts (whose PROGRAMS table spreads these in): params in, a Program out, shapes in
 * uniforms, `key` naming everything the code depends on.
 *
 * Bytes on the gpu: WGSL has no 8- or 16-bit storage, so bool/u8 (1 byte) and f16 (2 bytes)
 * buffers are bound as array<u32> and each invocation owns whole 32-bit words: a kernel that
 * writes them builds a word from 4 (or 2) elements; one that reads them extracts the byte.
 */
import { WGSL } from '../gen/wgsl.js';
import { DeviceError } from '../errors.js';
import { COMPARE } from '../ops/elementwise-spec.js';
import type { KernelParams } from './backend.js';
import { grid1d, type GridLimits, lazyCode, type Program, strided } from './wgsl-programs.js';
import { floatIO, floatStorage, withHalf } from './wgsl-half.js';
import { type GroupFold, groupVariant, maxFold, sumFold, withGroupFolds } from './wgsl-group.js';

const WG = 256;
const groups = (n: number) => Math.ceil(n / WG);

/** Uniform words: u32 fields, then f32 fields by word index; padded to whole vec4s (16 bytes). */
function uniforms(words: number[], floats: Record<number, number> = {}): Uint32Array {
  const size = Math.max(words.length, ...Object.keys(floats).map((i) => Number(i) + 1));
  const u = new Uint32Array(Math.max(4, Math.ceil(size / 4) * 4));
  u.set(words);
  const f = new Float32Array(u.buffer);
  for (const [i, v] of Object.entries(floats)) f[Number(i)] = v;
  return u;
}

/** A collapsed broadcast (rank <= 8) as uniform words: [rank, total, a, b] then shape and strides. */
function broadcastWords(head: number[], shape: number[], strides: number[][]): Uint32Array {
  if (shape.length > 8) throw new DeviceError(`gpu: a broadcast of rank ${shape.length} (after collapsing) exceeds the kernels' 8`);
  const u = new Uint32Array(4 + 8 * (1 + strides.length));
  u.set(head);
  u.set(shape, 4);
  strides.forEach((s, i) => u.set(s, 12 + 8 * i));
  return u;
}

/**
 * The best (order key, index) candidate of kernels/argreduce.wgsl: the larger key, then the
 * smaller index; over a subgroup, the largest key, then the smallest index among its holders.
 */
const ARG_FOLD: GroupFold = {
  name: 'groupArg', type: 'vec2<u32>', identity: 'vec2<u32>(0u, NONE)',
  combine: 'select(b, a, a.x > b.x || (a.x == b.x && a.y < b.y))',
  subgroup: 'let k = subgroupMax(v.x);\n  return vec2<u32>(k, subgroupMin(select(NONE, v.y, v.x == k)));',
};

export function argReduce({ op, outer, reduce, inner }: KernelParams['reduce'], lim: GridLimits): Program {
  if (reduce < 1) throw new DeviceError(`gpu: ${op} needs a non-empty reduced axis`);
  const u = uniforms([outer, reduce, inner], { 3: op === 'argmax' ? 1 : -1 });
  const group = inner === 1 ? groupVariant(lim.subgroups) : 'tree'; // as in PROGRAMS.reduce
  const code = () => withGroupFolds(group, WGSL.argreduce, [ARG_FOLD]);
  if (inner === 1) return lazyCode({ key: { kernel: 'argreduce', entry: 'rows', group }, entry: 'rows', grid: grid1d(outer, lim), uniforms: u }, code);
  return lazyCode({ key: { kernel: 'argreduce', entry: 'cols' }, entry: 'cols', grid: grid1d(groups(outer * inner), lim), uniforms: u }, code);
}

export const OPS_PROGRAMS = {
  softmax({ rows, n, log, dtype }: KernelParams['softmax'], lim: GridLimits): Program {
    const s = floatStorage(dtype, lim.nativeF16), group = groupVariant(lim.subgroups);
    const folds = [maxFold('groupMax', 'P.negInf'), sumFold('groupSum')];
    const code = () => withHalf(s, withGroupFolds(group, WGSL.softmax.replace('{{IO}}', floatIO(s, [['X', 0]], ['Out', 1])), folds));
    return lazyCode({ key: { kernel: 'softmax', storage: s, group }, entry: 'main', grid: grid1d(rows, lim), uniforms: uniforms([rows, n, log ? 1 : 0], { 3: -Infinity }) }, code);
  },
  layerNorm({ rows, n, eps, weight, bias }: KernelParams['layerNorm'], lim: GridLimits): Program {
    // Bindings follow the backend's order: x, weight?, bias?, out, uniform.
    let b = 1;
    const decl: string[] = [];
    if (weight) decl.push(`@group(0) @binding(${b++}) var<storage, read> Weight: array<f32>;`);
    if (bias) decl.push(`@group(0) @binding(${b++}) var<storage, read> Bias: array<f32>;`);
    decl.push(`@group(0) @binding(${b++}) var<storage, read_write> Out: array<f32>;`, `@group(0) @binding(${b}) var<uniform> P: Params;`);
    const group = groupVariant(lim.subgroups);
    const code = () => withGroupFolds(group, WGSL.layernorm.replace('{{DECL}}', decl.join('\n'))
      .replace('{{W}}', weight ? 'Weight[i]' : '1.0').replace('{{B}}', bias ? 'Bias[i]' : '0.0'), [sumFold('groupSum')]);
    return lazyCode({ key: { kernel: 'layerNorm', weight: weight ? 1 : 0, bias: bias ? 1 : 0, group }, entry: 'main', grid: grid1d(rows, lim), uniforms: uniforms([rows, n], { 2: eps }) }, code);
  },
  crossEntropy({ rows, classes, smoothing }: KernelParams['crossEntropy'], lim: GridLimits): Program {
    const group = groupVariant(lim.subgroups);
    const code = () => withGroupFolds(group, WGSL.cross_entropy, [maxFold('groupMax', 'P.negInf'), sumFold('groupSum2', 'vec2<f32>')]);
    return lazyCode({
      key: { kernel: 'crossEntropy', group }, entry: 'main', grid: grid1d(rows, lim),
      uniforms: uniforms([rows, classes], { 2: smoothing, 3: -Infinity, 4: NaN }),
      indexError: (r) => `crossEntropy: the label at index ${r} is outside [0, ${classes}) (found on the gpu; that row of the result is NaN)`,
    }, code);
  },
  compare({ op, shape, aStrides, bStrides }: KernelParams['compare'], lim: GridLimits): Program {
    const total = shape.reduce((x, y) => x * y, 1);
    const code = () => strided(WGSL.compare.replaceAll('{{EXPR}}', COMPARE[op].wgsl));
    return lazyCode({ key: { kernel: 'compare', op }, entry: 'main', grid: grid1d(groups(Math.ceil(total / 4)), lim), uniforms: broadcastWords([shape.length, total], shape, [aStrides, bStrides]) }, code);
  },
  where({ shape, condStrides, aStrides, bStrides }: KernelParams['where'], lim: GridLimits): Program {
    const total = shape.reduce((x, y) => x * y, 1);
    return lazyCode({ key: { kernel: 'where' }, entry: 'main', grid: grid1d(groups(total), lim), uniforms: broadcastWords([shape.length, total], shape, [condStrides, aStrides, bStrides]) }, () => strided(WGSL.where));
  },
  gather({ outer, axisLen, inner, count, itemBytes }: KernelParams['gather'], lim: GridLimits): Program {
    const items = outer * count * inner;
    const words = itemBytes === 4;
    const total = words ? items : items * itemBytes;
    return {
      key: { kernel: 'gather', entry: words ? 'words' : 'bytes' }, code: WGSL.gather, entry: words ? 'words' : 'bytes',
      grid: grid1d(groups(words ? total : Math.ceil(total / 4)), lim),
      uniforms: uniforms([outer, axisLen, inner, count, itemBytes, total]),
      indexError: (j) => `gather: the index at position ${j} is outside [0, ${axisLen}) (found on the gpu; its rows of the result are 0)`,
    };
  },
  scatterAdd({ outer, axisLen, inner, count }: KernelParams['scatterAdd'], lim: GridLimits): Program {
    const total = outer * axisLen * inner;
    return { key: { kernel: 'scatterAdd' }, code: WGSL.scatter_add, entry: 'main', grid: grid1d(groups(total), lim), uniforms: uniforms([outer, axisLen, inner, count, total]) };
  },
  oneHot({ n, classes, oneBits }: KernelParams['oneHot'], lim: GridLimits): Program {
    return {
      key: { kernel: 'oneHot' }, code: WGSL.one_hot, entry: 'main', grid: grid1d(groups(n * classes), lim),
      uniforms: uniforms([n, classes, oneBits]),
      indexError: (i) => `oneHot: the class at index ${i} is outside [0, ${classes}) (found on the gpu; that row of the result is 0)`,
    };
  },
  sgd({ size, lr, momentum, dampening, nesterov, weightDecay, step }: KernelParams['sgd'], lim: GridLimits): Program {
    const mom = momentum !== 0;
    const decl = mom
      ? ['@group(0) @binding(1) var<storage, read_write> Buf: array<f32>;', '@group(0) @binding(2) var<storage, read_write> Prm: array<f32>;', '@group(0) @binding(3) var<uniform> P: Params;']
      : ['@group(0) @binding(1) var<storage, read_write> Prm: array<f32>;', '@group(0) @binding(2) var<uniform> P: Params;'];
    const update = mom
      ? ['  let b = select(P.momentum * Buf[i] + P.oneMinusDampening * d, d, P.firstStep != 0u);', '  Buf[i] = b;', '  d = select(b, d + P.momentum * b, P.nesterov != 0u);'].join('\n')
      : '';
    const code = () => WGSL.sgd.replace('{{DECL}}', decl.join('\n')).replace('{{MOMENTUM}}', update);
    return lazyCode({
      key: { kernel: 'sgd', momentum: mom ? 1 : 0 }, entry: 'main', grid: grid1d(groups(size), lim),
      uniforms: uniforms([size, step === 1 ? 1 : 0, nesterov ? 1 : 0], { 4: lr, 5: momentum, 6: 1 - dampening, 7: weightDecay }),
    }, code);
  },
  cast({ from, to, size }: KernelParams['cast'], lim: GridLimits): Program {
    const BYTES = { f32: 4, i32: 4, f16: 2, u8: 1, bool: 1 } as const;
    let entry: string, invocations = size;
    if (from === to) {
      entry = 'copy';
      invocations = Math.ceil((size * BYTES[from]) / 4);
    } else if (from === 'u8' || from === 'bool') {
      entry = to === 'f32' ? 'u8_f32' : '';
    } else {
      entry = `${from}_${to}`;
      if (to === 'f16') invocations = Math.ceil(size / 2);
    }
    if (!['copy', 'f32_i32', 'i32_f32', 'u8_f32', 'f32_f16', 'f16_f32'].includes(entry)) throw new DeviceError(`gpu: cast ${from} -> ${to} is not implemented on gpu`);
    return lazyCode({ key: { kernel: 'cast', entry }, entry, grid: grid1d(groups(invocations), lim), uniforms: uniforms([entry === 'copy' ? invocations : size]) }, () => WGSL.cast.replace('{{HALF}}', WGSL.half));
  },
  normalizeImage({ height, width, channels, mean, std }: KernelParams['normalizeImage'], lim: GridLimits): Program {
    const pixels = height * width;
    const floats: Record<number, number> = {};
    for (let c = 0; c < channels; c++) {
      floats[4 + c] = 1 / (255 * std[c]);
      floats[8 + c] = -mean[c] / std[c];
    }
    return { key: { kernel: 'normalizeImage' }, code: WGSL.normalize_image, entry: 'main', grid: grid1d(groups(pixels * channels), lim), uniforms: uniforms([pixels, channels], floats) };
  },
  adam: (p: KernelParams['adam'], lim: GridLimits): Program => adamProgram(p, false, lim),
  adamw: (p: KernelParams['adamw'], lim: GridLimits): Program => adamProgram(p, true, lim),
  unscale({ size, invScale }: KernelParams['unscale'], lim: GridLimits): Program {
    return { key: { kernel: 'unscale' }, code: WGSL.unscale, entry: 'main', grid: grid1d(groups(size), lim), uniforms: uniforms([size], { 4: invScale }) };
  },
};

function adamProgram({ size, lr, beta1, beta2, eps, weightDecay, step }: KernelParams['adam'], decoupled: boolean, lim: GridLimits): Program {
  const floats = [beta1, 1 - beta1, beta2, 1 - beta2, lr / (1 - beta1 ** step), Math.sqrt(1 - beta2 ** step), eps, weightDecay, 1 - lr * weightDecay];
  const u = uniforms([size, decoupled ? 1 : 0], Object.fromEntries(floats.map((v, i) => [4 + i, v])));
  return { key: { kernel: 'adam' }, code: WGSL.adam, entry: 'main', grid: grid1d(groups(size), lim), uniforms: u };
}
