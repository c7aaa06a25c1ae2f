/**
 * Multi-head self-attention (torch.nn.MultiheadAttention with batch_first, self-attention
 * only) and a pre-norm Transformer block, both from the ops: four Linear projections, batched
 * matmuls over [batch, heads, tokens, headDim] views, a softmax in f32 under autocast, and an
 * additive causal mask (-inf above the diagonal) when `causal` is set.
 */
import type { DeviceKind } from '../backend/backend.js';
import { tensor } from '../create.js';
import { ShapeError, TandemError } from '../errors.js';
import * as T from '../index.js';
import type { Tensor } from '../tensor.js';
import { Dropout, GELU, LayerNorm, Linear, Sequential } from './layers.js';
import { Module } from './module.js';

export interface AttentionOptions { causal?: boolean; bias?: boolean; dropout?: number; device?: DeviceKind; seed?: number }

/** [T, T] with 0 on and below the diagonal and -inf above it. */
function causalMask(n: number, device: DeviceKind): Tensor {
  const m = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) m[i * n + j] = -Infinity;
  return tensor(m, [n, n], { device });
}

export class MultiheadAttention extends Module {
  qProj: Linear; kProj: Linear; vProj: Linear; outProj: Linear;
  dropout: Dropout;
  readonly headDim: number;
  constructor(readonly embedDim: number, readonly numHeads: number, readonly opts: AttentionOptions = {}) {
    super();
    if (!Number.isInteger(numHeads) || numHeads < 1 || embedDim % numHeads !== 0) {
      throw new TandemError(`MultiheadAttention: embedDim ${embedDim} must be a multiple of numHeads ${numHeads}`);
    }
    this.headDim = embedDim / numHeads;
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
    const lin = (k: number) => new Linear(embedDim, embedDim, { bias: opts.bias, device: opts.device, seed: seed + k });
    this.qProj = lin(1); this.kProj = lin(2); this.vProj = lin(3); this.outProj = lin(4);
    this.dropout = new Dropout(opts.dropout ?? 0, { seed: seed + 5 });
  }

  /** x [batch, tokens, embedDim] -> [batch, tokens, embedDim]; `causal` overrides the option. */
  forward(x: Tensor, causal = this.opts.causal ?? false): Tensor {
    if (x?.rank !== 3 || x.shape[2] !== this.embedDim) throw new ShapeError(`MultiheadAttention: expects x [batch, tokens, ${this.embedDim}], got [${x?.shape}]`);
    return T.tidy(() => this.#attend(x, causal)); // intermediates go at once (the tape keeps what backward needs)
  }

  #attend(x: Tensor, causal: boolean): Tensor {
    const [b, n] = x.shape, h = this.numHeads, d = this.headDim;
    const heads = (t: Tensor) => T.permute(T.reshape(t, [b, n, h, d]), [0, 2, 1, 3]); // [b, h, n, d]
    const q = heads(this.qProj.forward(x)), k = heads(this.kProj.forward(x)), v = heads(this.vProj.forward(x));
    let scores = T.mul(T.matmul(q, k, { transposeB: true }), tensor([1 / Math.sqrt(d)], [], { device: x.device, dtype: q.dtype }));
    if (causal) scores = T.add(scores, causalMask(n, x.device));
    const attn = this.dropout.forward(T.softmax(scores, -1));
    const out = T.matmul(attn, v); // [b, h, n, d]
    return this.outProj.forward(T.reshape(T.permute(out, [0, 2, 1, 3]), [b, n, this.embedDim]));
  }
}

export interface TransformerBlockOptions extends AttentionOptions { mlpRatio?: number; eps?: number }

/** Pre-norm block: x + attn(ln1(x)), then + mlp(ln2(x)) with mlp = Linear, GELU, Linear (GPT-2's layout). */
export class TransformerBlock extends Module {
  ln1: LayerNorm; attn: MultiheadAttention; ln2: LayerNorm; mlp: Sequential;
  constructor(readonly dim: number, numHeads: number, opts: TransformerBlockOptions = {}) {
    super();
    const hidden = Math.round(dim * (opts.mlpRatio ?? 4)), seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.ln1 = new LayerNorm(dim, { eps: opts.eps, device: opts.device });
    this.attn = new MultiheadAttention(dim, numHeads, { ...opts, seed });
    this.ln2 = new LayerNorm(dim, { eps: opts.eps, device: opts.device });
    this.mlp = new Sequential(new Linear(dim, hidden, { device: opts.device, seed: seed + 10 }), new GELU(), new Linear(hidden, dim, { device: opts.device, seed: seed + 11 }));
  }
  forward(x: Tensor): Tensor {
    return T.tidy(() => {
      const y = T.add(x, this.attn.forward(this.ln1.forward(x)));
      return T.add(y, this.mlp.forward(this.ln2.forward(y)));
    });
  }
}
