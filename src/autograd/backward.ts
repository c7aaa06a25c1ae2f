/**
 * backward(): walk the tape from a tensor to the leaves in reverse topological order, running
 * each node's rule once with the sum of the gradients that reached its output.
 *
 * Ownership: every gradient in flight is a handle the engine owns and disposes once used.
 * Rules run under noGrad inside a tidy scope, so their temporaries go at once; what they return
 * is taken over (aliases of the incoming gradient become new views). A leaf's gradient is
 * made contiguous, exclusive (never sharing storage with another tensor, since optimizers and
 * scalers may update it in place), on the leaf's device, and `keep`-ed: it survives enclosing
 * tidy scopes and lives until the leaf is disposed or an optimizer's zeroGrad() drops it. It
 * accumulates (PyTorch semantics): a second backward adds to an existing grad.
 *
 * Not supported: gradients of gradients (create_graph); the rules run without recording.
 */
import { apply } from '../apply.js';
import { fmtShape } from '../dtype.js';
import { ShapeError, TandemError } from '../errors.js';
import { toStorage } from '../host.js';
import { keep, tidy } from '../lifetime.js';
import { copyTo } from '../sched/stream.js';
import { type BackwardOptions, type Tensor, createTensor } from '../tensor.js';
import { contiguous } from '../ops/views.js';
import { GradNode, needsGrad, withGradMode } from './tape.js';

export function backward(root: Tensor, grad: Tensor | undefined, opts: BackwardOptions): void {
  root.storage('backward');
  if (!needsGrad(root)) {
    throw new TandemError(`backward: ${root} does not require grad (no leaf it depends on has requiresGrad set, or it was made under noGrad)`);
  }
  let g: Tensor;
  if (grad === undefined || grad === null) {
    if (root.size !== 1) throw new ShapeError(`backward: ${root} is not a scalar; pass a gradient of shape ${fmtShape(root.shape)}, e.g. y.backward(T.ones(y.shape))`);
    g = createTensor(root.shape, root.dtype, root.device, 'backward', () => toStorage(new Float32Array([1]), root.dtype, 'backward'));
  } else {
    grad.storage('backward');
    if (fmtShape(grad.shape) !== fmtShape(root.shape)) throw new ShapeError(`backward: gradient ${fmtShape(grad.shape)} does not match ${root} (shape ${fmtShape(root.shape)})`);
    if (grad.dtype !== root.dtype) throw new TandemError(`backward: gradient dtype ${grad.dtype} does not match ${root}`);
    g = grad.view('backward', grad.shape, grad.strides, grad.offset);
  }
  withGradMode(false, () => run(root, g, opts.retainGraph === true), false);
}

function run(root: Tensor, g: Tensor, retain: boolean): void {
  if (root.gradFn === null) { accumulate(root, g); return; }
  const order = topoOrder(root.gradFn);
  const grads = new Map<GradNode, Tensor>([[root.gradFn, g]]);
  try {
    for (const node of order) {
      const gn = grads.get(node);
      if (gn === undefined) continue;
      grads.delete(node);
      let ins: (Tensor | null)[];
      try {
        checkNode(node);
        ins = tidy(() => node.rule.grad(gn, node.ctx));
      } catch (e) {
        gn.dispose();
        throw e;
      }
      const seen = new Set<Tensor>();
      node.edges.forEach((e, i) => {
        let gi = ins[i] ?? null;
        if (gi === null) return;
        // Aliases (g passed through, a saved tensor, one tensor for two inputs): one handle per use.
        if (gi === gn || seen.has(gi) || node.ctx.saved.includes(gi)) gi = gi.view('backward', gi.shape, gi.strides, gi.offset);
        seen.add(gi);
        if (e === null) { gi.dispose(); return; }
        if (e instanceof GradNode) {
          const prev = grads.get(e);
          grads.set(e, prev === undefined ? gi : addOwned(prev, gi));
        } else accumulate(e, gi);
      });
      for (const t of ins) if (t !== null && !seen.has(t) && t !== gn && !node.ctx.saved.includes(t)) t.dispose(); // unused
      gn.dispose();
      if (!retain) node.free();
    }
  } finally {
    for (const t of grads.values()) t.dispose();
  }
}

function checkNode(node: GradNode): void {
  if (node.freed) {
    throw new TandemError(`backward: the graph through ${node.op} was already freed by an earlier backward(); pass { retainGraph: true } to the first call to backward through it again`);
  }
  node.ctx.saved.forEach((t, i) => {
    const v = t?.storage('backward').version;
    if (t !== null && v !== node.versions[i]) {
      throw new TandemError(`backward: a tensor ${node.op} saved for its gradient (${t}) was modified in place since (version ${node.versions[i]} -> ${v}), e.g. by an optimizer step between forward and backward`);
    }
  });
}

/** Nodes reachable from root, each after every node that consumes it (so before its inputs). */
function topoOrder(root: GradNode): GradNode[] {
  const post: GradNode[] = [];
  const visited = new Set<GradNode>([root]);
  const stack: [GradNode, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.edges.length) {
      top[1]++;
      const e = node.edges[i];
      if (e instanceof GradNode && !visited.has(e)) { visited.add(e); stack.push([e, 0]); }
    } else {
      stack.pop();
      post.push(node);
    }
  }
  return post.reverse();
}

function addOwned(a: Tensor, b: Tensor): Tensor {
  try {
    return apply('add', [a, b]);
  } finally {
    a.dispose();
    b.dispose();
  }
}

/** Add g (owned) into leaf.grad; see the file comment for what a leaf's grad is. */
function accumulate(leaf: Tensor, g: Tensor): void {
  if (leaf.disposed) { g.dispose(); return; }
  if (g.dtype !== leaf.dtype || fmtShape(g.shape) !== fmtShape(leaf.shape)) {
    g.dispose();
    throw new TandemError(`backward: internal error: gradient ${g} for leaf ${leaf}`);
  }
  if (g.device !== leaf.device) g = own(g, copyTo(g, leaf.device, 'backward'));
  if (leaf.grad !== null && !leaf.grad.disposed) {
    g = own(g, apply('add', [leaf.grad, g]));
    leaf.grad.dispose();
  } else if (!g.isContiguous) {
    g = own(g, contiguous(g));
  } else if (g.storage('backward').refs > 1) {
    g = own(g, apply('cast', [g], { dtype: g.dtype })); // a copy
  }
  leaf.grad = keep(g);
}

/** next, after disposing prev. */
function own(prev: Tensor, next: Tensor): Tensor {
  prev.dispose();
  return next;
}
