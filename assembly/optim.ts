// Fused optimizer updates: one pass over flat f32 buffers of n elements, updating the
// parameters and the state buffers in place. Scalars derived from the step count (bias
// corrections, 1 - lr * weightDecay) are computed by the caller in f64 and passed in.
// The arithmetic follows PyTorch's single-tensor implementations step for step, in f32.

/**
 * SGD with momentum (torch.optim.SGD): d = g + wd * p; if momentum != 0, buf = first ? d :
 * momentum * buf + (1 - dampening) * d, and d = nesterov ? d + momentum * buf : buf; then
 * p -= lr * d. `buf` is not touched when momentum is 0 (it may be 0 then). Zero weight decay
 * skips the wd * p term, so an infinite parameter does not turn its gradient into NaN.
 */
export function f32_sgd(
  p: usize, g: usize, buf: usize, n: i32,
  lr: f32, momentum: f32, oneMinusDampening: f32, wd: f32, nesterov: i32, first: i32,
): void {
  const vlr = f32x4.splat(lr), vmu = f32x4.splat(momentum), vdamp = f32x4.splat(oneMinusDampening), vwd = f32x4.splat(wd);
  const decay = wd != 0, useBuf = momentum != 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = <usize>i << 2;
    const pv = v128.load(p + q);
    let d = v128.load(g + q);
    if (decay) d = f32x4.add(d, f32x4.mul(vwd, pv));
    if (useBuf) {
      const b = first ? d : f32x4.add(f32x4.mul(vmu, v128.load(buf + q)), f32x4.mul(vdamp, d));
      v128.store(buf + q, b);
      d = nesterov ? f32x4.add(d, f32x4.mul(vmu, b)) : b;
    }
    v128.store(p + q, f32x4.sub(pv, f32x4.mul(vlr, d)));
  }
  for (; i < n; i++) sgd1(p, g, buf, i, lr, momentum, oneMinusDampening, wd, nesterov, first);
}

// @ts-ignore: decorator
@inline function sgd1(p: usize, g: usize, buf: usize, i: i32, lr: f32, momentum: f32, oneMinusDampening: f32, wd: f32, nesterov: i32, first: i32): void {
  const q = <usize>i << 2;
  const pv = load<f32>(p + q);
  let d = load<f32>(g + q);
  if (wd != 0) d = d + wd * pv;
  if (momentum != 0) {
    const b = first ? d : momentum * load<f32>(buf + q) + oneMinusDampening * d;
    store<f32>(buf + q, b);
    d = nesterov ? d + momentum * b : b;
  }
  store<f32>(p + q, pv - lr * d);
}

export function f32_sgd__scalar(
  p: usize, g: usize, buf: usize, n: i32,
  lr: f32, momentum: f32, oneMinusDampening: f32, wd: f32, nesterov: i32, first: i32,
): void {
  for (let i = 0; i < n; i++) sgd1(p, g, buf, i, lr, momentum, oneMinusDampening, wd, nesterov, first);
}

/**
 * Adam / AdamW (torch.optim.Adam, AdamW): p *= decay (AdamW: 1 - lr * wd; Adam: 1);
 * d = g + wd * p (Adam's L2 term; wd is 0 for AdamW); m = b1 m + (1 - b1) d;
 * v = b2 v + (1 - b2) d^2; p -= stepSize * m / (sqrt(v) / bc2Sqrt + eps), with
 * stepSize = lr / (1 - b1^t) and bc2Sqrt = sqrt(1 - b2^t).
 */
export function f32_adam(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  b1: f32, oneMinusB1: f32, b2: f32, oneMinusB2: f32, eps: f32, wd: f32, decay: f32, stepSize: f32, bc2Sqrt: f32,
): void {
  const vb1 = f32x4.splat(b1), vc1 = f32x4.splat(oneMinusB1), vb2 = f32x4.splat(b2), vc2 = f32x4.splat(oneMinusB2);
  const veps = f32x4.splat(eps), vwd = f32x4.splat(wd), vdecay = f32x4.splat(decay), vstep = f32x4.splat(stepSize), vbc2 = f32x4.splat(bc2Sqrt);
  const l2 = wd != 0, decoupled = decay != 1;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = <usize>i << 2;
    let pv = v128.load(p + q);
    if (decoupled) pv = f32x4.mul(pv, vdecay);
    let d = v128.load(g + q);
    if (l2) d = f32x4.add(d, f32x4.mul(vwd, pv));
    const mv = f32x4.add(f32x4.mul(vb1, v128.load(m + q)), f32x4.mul(vc1, d));
    const vv = f32x4.add(f32x4.mul(vb2, v128.load(v + q)), f32x4.mul(vc2, f32x4.mul(d, d)));
    v128.store(m + q, mv);
    v128.store(v + q, vv);
    const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv), vbc2), veps);
    v128.store(p + q, f32x4.sub(pv, f32x4.mul(vstep, f32x4.div(mv, denom))));
  }
  for (; i < n; i++) adam1(p, g, m, v, i, b1, oneMinusB1, b2, oneMinusB2, eps, wd, decay, stepSize, bc2Sqrt);
}

// @ts-ignore: decorator
@inline function adam1(
  p: usize, g: usize, m: usize, v: usize, i: i32,
  b1: f32, oneMinusB1: f32, b2: f32, oneMinusB2: f32, eps: f32, wd: f32, decay: f32, stepSize: f32, bc2Sqrt: f32,
): void {
  const q = <usize>i << 2;
  let pv = load<f32>(p + q);
  if (decay != 1) pv = pv * decay;
  let d = load<f32>(g + q);
  if (wd != 0) d = d + wd * pv;
  const mv = b1 * load<f32>(m + q) + oneMinusB1 * d;
  const vv = b2 * load<f32>(v + q) + oneMinusB2 * (d * d);
  store<f32>(m + q, mv);
  store<f32>(v + q, vv);
  store<f32>(p + q, pv - stepSize * (mv / (sqrt<f32>(vv) / bc2Sqrt + eps)));
}

export function f32_adam__scalar(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  b1: f32, oneMinusB1: f32, b2: f32, oneMinusB2: f32, eps: f32, wd: f32, decay: f32, stepSize: f32, bc2Sqrt: f32,
): void {
  for (let i = 0; i < n; i++) adam1(p, g, m, v, i, b1, oneMinusB1, b2, oneMinusB2, eps, wd, decay, stepSize, bc2Sqrt);
}
