/**
 * Typed errors. Every error Tandem throws on purpose is a TandemError subclass whose message
 * names the op and the offending value, so callers can `instanceof` on the kind and a person
 * can read what went wrong without a stack trace.
 */
export class TandemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A shape that is malformed, or shapes that do not fit together for an op. */
export class ShapeError extends TandemError {}

/** An unknown dtype, or one this op does not support. */
export class DTypeError extends TandemError {}

/** A tensor used after `dispose()`. */
export class DisposedError extends TandemError {}

/** A device that is unknown, absent, lost, or mixed with another without `.to()`. */
export class DeviceError extends TandemError {}

/**
 * The gpu device was lost or destroyed: work pending on it fails with this, and so does every
 * later use of a gpu tensor. The cpu engine is unaffected; re-run init() for a new device.
 */
export class DeviceLostError extends DeviceError {}

/** WebGPU reported a validation or internal error for work Tandem submitted. */
export class GPUKernelError extends TandemError {}

/** An index (a label, a gather index, a one-hot class) outside the range it indexes. */
export class IndexError extends TandemError {}

/** A device cannot hold an allocation of the requested size. */
export class OutOfMemoryError extends TandemError {}

/** `init()` has not finished yet, so no backend exists. */
export class NotInitializedError extends TandemError {}

/** Bytes that are not a well-formed file of the format being read (e.g. safetensors). */
export class FormatError extends TandemError {}

/** A state dict that does not fit a module: `missing` and `unexpected` name the keys. */
export class StateDictError extends TandemError {
  constructor(message: string, readonly missing: readonly string[] = [], readonly unexpected: readonly string[] = []) {
    super(message);
  }
}

/**
 * The data loader could not make a batch: a dataset item of the wrong shape or dtype, a
 * transform that threw, or a data worker that crashed. The message names the item's index.
 */
export class DataError extends TandemError {}
