/**
 * The report `npm test` prints: quiet while tests pass, every failure in full
 * (name path, file, the error with its diff and stack), one line per skip with
 * its reason, anything a test wrote to stdout/stderr (prefixed with its file),
 * and a closing summary of counts and time. The same text on a terminal and
 * off one (CI, a pipe); a terminal also gets a one-line progress counter.
 *
 * It reads node:test's reporter events (`run()`'s stream). Counting rules:
 * suites are not tests; a suite or file that failed only because a test in it
 * failed (`subtestsFailed`) is not counted again; a file that failed on its own
 * (it did not load, or its process exited non-zero) counts as one failure, and
 * so does a cancelled test; a skipped suite counts as one skip.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { inspect } from 'node:util';

interface TestEventData {
  name?: string;
  nesting?: number;
  file?: string;
  message?: string;
  skip?: string | boolean;
  todo?: string | boolean;
  details?: {
    duration_ms?: number;
    type?: 'suite' | 'test';
    error?: Error & { failureType?: string; cause?: unknown };
  };
}

export interface TestEvent {
  type: string;
  data: TestEventData;
}

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

export class CompactReporter {
  readonly counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  /** Per file: the names of the tests currently open at each nesting level. */
  private readonly paths = new Map<string, string[]>();

  /**
   * @param root paths are shown relative to it
   * @param write where the report goes
   * @param progress a one-line status for terminals (overwritten in place); off when null
   */
  constructor(
    private readonly root: string,
    private readonly write: (text: string) => void,
    private readonly progress: ((line: string) => void) | null = null,
  ) {}

  handle(event: TestEvent): void {
    const d = event.data;
    switch (event.type) {
      case 'test:start':
        this.pathOf(d.file)[d.nesting ?? 0] = d.name ?? '';
        return;
      case 'test:pass':
        if (d.skip !== undefined && d.skip !== false) {
          this.counts.skipped++;
          this.out(`skip  ${this.title(d)}: ${reason(d.skip, 'skipped')}\n`);
        } else if (d.todo !== undefined && d.todo !== false) {
          this.counts.skipped++;
          this.out(`todo  ${this.title(d)}: ${reason(d.todo, 'todo')}\n`);
        } else if (d.details?.type !== 'suite') {
          this.counts.passed++;
        }
        this.tick(d);
        return;
      case 'test:fail':
        this.fail(d);
        this.tick(d);
        return;
      case 'test:stdout':
      case 'test:stderr':
        this.out(prefixLines(`${this.rel(d.file)} ${event.type.slice(5)}| `, d.message ?? ''));
        return;
      case 'test:diagnostic':
        // Top-level diagnostics are node:test's own totals; ours are counted above.
        if ((d.nesting ?? 0) > 0 && d.file !== undefined) this.out(`note  ${this.title(d)}: ${d.message}\n`);
        return;
      default:
    }
  }

  /** The closing lines: the time, then the counts alone on the last line. */
  summary(files: number, elapsedMs: number): string {
    const { passed, failed, skipped } = this.counts;
    const time = `${files} ${files === 1 ? 'file' : 'files'} in ${(elapsedMs / 1000).toFixed(1)} s`;
    // First the counts as node:test itself ends its report off a terminal (`node --test`),
    // for the tools that read them there (CI); then the same counts for people.
    const machine = `# tests ${passed + failed + skipped}\n# pass ${passed}\n# fail ${failed}\n# skipped ${skipped}\n# duration_ms ${Math.round(elapsedMs)}\n`;
    return `\n${machine}\n${time}\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`;
  }

  private fail(d: TestEventData): void {
    const error = d.details?.error;
    const kind = error?.failureType;
    if (kind === 'subtestsFailed') return; // already reported, test by test
    this.counts.failed++;
    const ms = d.details?.duration_ms;
    const head = `FAIL  ${this.title(d)}${ms === undefined ? '' : ` (${Math.round(ms)} ms)`}\n`;
    if (kind === 'cancelledByParent') return this.out(`${head}      cancelled: ${error?.message}\n`);
    // The thrown error is the cause; the wrapper only says "test failed".
    const shown = error?.cause ?? error;
    if (this.title(d) === this.rel(d.file)) {
      // The file's process failed (it did not load, or exited non-zero).
      return this.out(`${head}      ${error?.message ?? 'failed'}: the file's output above says why\n\n`);
    }
    const text = shown instanceof Error || (shown !== null && typeof shown === 'object')
      ? inspect(shown, { depth: 6, colors: false })
      : String(shown);
    this.out(head + prefixLines('      ', `${text}\n`) + '\n');
  }

  private tick(d: TestEventData): void {
    if (this.progress === null) return;
    const { passed, failed, skipped } = this.counts;
    this.progress(`${passed} passed, ${failed} failed, ${skipped} skipped  ${this.rel(d.file)}`);
  }

  private out(text: string): void {
    this.progress?.('');
    this.write(text);
  }

  private pathOf(file: string | undefined): string[] {
    const key = file ?? '';
    let path = this.paths.get(key);
    if (path === undefined) this.paths.set(key, (path = []));
    return path;
  }

  /** `spec/x.spec.ts › suite › test`. A file-level entry is named by its path already. */
  private title(d: TestEventData): string {
    const nesting = d.nesting ?? 0;
    const names = [...this.pathOf(d.file).slice(0, nesting), d.name ?? ''];
    const file = this.rel(d.file);
    if (nesting === 0 && d.name !== undefined && this.rel(d.name) === file) return file;
    return [file, ...names].join(' › ');
  }

  /** Inside the root: relative to it; outside: absolute. (node:test names a file as it was given.) */
  private rel(file: string | undefined): string {
    if (file === undefined) return '(no file)';
    const abs = resolve(this.root, file);
    const rel = relative(this.root, abs);
    return rel.startsWith('..') || isAbsolute(rel) ? abs : rel;
  }
}

function reason(value: string | boolean, fallback: string): string {
  return typeof value === 'string' && value !== '' ? value : fallback;
}

function prefixLines(prefix: string, text: string): string {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines.map((line) => prefix + line + '\n').join('');
}
