/**
 * Benches that need a second configuration of one process (a Node flag, a thread count a
 * library reads once at start) rerun their own file as a child: `runChild` starts it with
 * `--child` and extra arguments, waits, and parses the one `ROWS <json>` line the child prints
 * with `printRows`. stderr passes through, so the child's progress shows.
 */
import { spawn } from 'node:child_process';

export const isChild = process.argv.includes('--child');
/** The value of `--name=value` on this process's command line, or undefined. */
export const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

export function printRows(payload: unknown): never {
  console.log(`ROWS ${JSON.stringify(payload)}`);
  process.exit(0);
}

export function runChild<P>(file: string, nodeFlags: string[], args: string[], empty: P): Promise<P> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', file, '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => { text += d; });
    p.on('close', () => {
      const line = text.match(/^ROWS (.*)$/m)?.[1];
      resolve(line ? JSON.parse(line) as P : empty);
    });
  });
}
