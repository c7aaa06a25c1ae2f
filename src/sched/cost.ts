/**
 * The cost model: how long an op would take on each engine, in microseconds,
 *   launch + bytes / bandwidth + flops / throughput + moving the inputs that live elsewhere,
 * from a Calibration measured at init() (src/sched/calibrate.ts) or given by the user.
 * bytes are the op's inputs plus its output; flops come from the op's table row (`flops`).
 * Transfers cost a latency plus bytes over the link's bandwidth (upload: host to gpu through
 * the staging ring; download: a readback).
 */
export interface EngineRates {
  /** Fixed cost of one op (dispatch, call overhead), µs. */
  launchUs: number;
  /** Memory bandwidth of a streaming kernel (an add), GB/s. */
  gbps: number;
  /** Matmul throughput, GFLOP/s. */
  gflops: number;
}

export interface LinkRates {
  /** Fixed cost of one copy, µs, and its bandwidth, GB/s. */
  latencyUs: number;
  gbps: number;
}

export interface Calibration {
  /** What it was measured on ('adapter | threads | build'); stores are keyed by it. */
  key: string;
  cpu: EngineRates;
  /** null: no gpu (auto places everything on cpu). */
  gpu: (EngineRates & { upload: LinkRates; download: LinkRates }) | null;
  /** How long measuring took, ms (0 when loaded or given). */
  measuredMs: number;
  /**
   * Probes that ran out of the time budget: their figure is a bound from the time they had
   * (e.g. a pipeline still compiling: gflops <= work / budget), not a measurement.
   */
  bounded: string[];
}

/** Estimated µs of an op on an engine, before moving inputs. */
export function computeUs(r: EngineRates, flops: number, bytes: number): number {
  return r.launchUs + bytes / (r.gbps * 1e3) + flops / (r.gflops * 1e3);
}

/**
 * Rates the model uses before a calibration is measured (init() measures lazily, see
 * src/runtime.ts): a modest hardware gpu, or, on a software adapter (SwiftShader, llvmpipe),
 * one that never wins, so the few ops placed before the measurement lands are not sent to an
 * engine a thousand times slower. `bounded` names them all: none is a measurement.
 */
export function defaultCalibration(key: string, softwareGPU: boolean): Calibration {
  const gpu = softwareGPU
    ? { launchUs: 500, gbps: 0.05, gflops: 0.1, upload: { latencyUs: 50, gbps: 1 }, download: { latencyUs: 500, gbps: 0.5 } }
    : { launchUs: 30, gbps: 100, gflops: 300, upload: { latencyUs: 20, gbps: 5 }, download: { latencyUs: 300, gbps: 2 } };
  return { key: `${key}|defaults`, cpu: { launchUs: 3, gbps: 20, gflops: 20 }, gpu, measuredMs: 0, bounded: ['defaults'] };
}
