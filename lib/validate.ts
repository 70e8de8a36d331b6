/**
 * Option checks shared by every public constructor: done once, at the call that
 * passed the options, with a message that says what is allowed.
 */
import { ErrorCode, SSERangeError, SSETypeError, describe } from './errors.js';

/**
 * `options` as an object (`{}` when absent), after checking it is one and that
 * it names no unknown option.
 */
export function optionsObject<T extends object>(options: T | undefined | null, allowed: string[], where: string): T {
  if (options === undefined || options === null) return {} as T;
  if (typeof options !== 'object') {
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `${where}: options must be an object with ${allowed.join(', ')}; got ${describe(options)}`,
    );
  }
  checkNames(options, allowed, where);
  return options;
}

/** Reject unknown option names, hinting at a near miss (`heartBeat` -> `heartbeat`). */
export function checkNames(options: object, allowed: string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((n) => n.toLowerCase() === key.toLowerCase());
    throw new SSETypeError(
      ErrorCode.INVALID_OPTION,
      `${where}: unknown option "${key}"${near ? ` (did you mean "${near}"?)` : ''}; allowed: ${allowed.join(', ')}`,
    );
  }
}

/** An integer option >= `min`; `fallback` when absent (undefined: required). */
export function checkInt(value: unknown, where: string, name: string, min: number, fallback: number | undefined): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    const message = `${where}: ${name} must be an integer >= ${min}${min === 0 ? ' (0 turns it off)' : ''}; got ${describe(value)}`;
    throw typeof value === 'number'
      ? new SSERangeError(ErrorCode.INVALID_OPTION, message)
      : new SSETypeError(ErrorCode.INVALID_OPTION, message);
  }
  return value;
}
