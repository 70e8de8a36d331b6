/**
 * The README's fenced code blocks, as spec/readme.spec.ts checks them and the
 * browser scenarios run them: each with its language, its text (dedented when
 * the fence is indented in a list), its line, the file it names (a first line
 * `// examples/...` or `# examples/...`, which is not part of the file), and the
 * marker on the line before the fence, if any:
 *   <!-- fragment: node -->     type-checked against the package and @types/node
 *   <!-- fragment: browser -->  type-checked against the DOM
 *   <!-- run -->                run with Node; a ```text block right after it is its exact stdout
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const README_PATH = path.join(__dirname, '..', '..', 'README.md');

export interface ReadmeBlock {
  lang: string;
  body: string;
  /** 1-based line of the opening fence. */
  line: number;
  marker: 'node' | 'browser' | 'run' | undefined;
  /** The file the block names, and whether it is an excerpt of it (`(excerpt)`). */
  file: string | undefined;
  excerpt: boolean;
  /** The block's text without the naming line. */
  content: string;
}

const NAMED = /^(?:\/\/|#) ((?:examples|spec)\/[\w./-]+)( \(excerpt\))?$/;
const MARKER = /^<!-- (?:fragment: (node|browser)|(run)) -->$/;

export function readmeBlocks(text = readFileSync(README_PATH, 'utf8')): ReadmeBlock[] {
  const lines = text.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)```(\w*)$/.exec(lines[i]);
    if (open === null) continue;
    const [, indent, lang] = open;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && lines[i] !== `${indent}\`\`\``; i++) body.push(lines[i].startsWith(indent) ? lines[i].slice(indent.length) : lines[i]);
    if (i === lines.length) throw new Error(`README.md:${start + 1}: a code block that is never closed`);
    const m = start > 0 ? MARKER.exec(lines[start - 1].trim()) : null;
    const text = body.length === 0 ? '' : `${body.join('\n')}\n`;
    const named = NAMED.exec(body[0] ?? '');
    blocks.push({
      lang,
      body: text,
      line: start + 1,
      marker: m === null ? undefined : ((m[1] ?? m[2]) as ReadmeBlock['marker']),
      file: named?.[1],
      excerpt: named?.[2] !== undefined,
      content: named === null ? text : body.slice(1).map((l) => `${l}\n`).join(''),
    });
  }
  return blocks;
}

/** The tutorial's client code as the README shows it (run by the browser scenarios against `npm start`). */
export const ARTICLE_URL = "new EventSource('http://localhost:8080/sse')";

export function articleClient(): string {
  const found = readmeBlocks().filter((b) => b.marker === 'browser' && b.body.includes(ARTICLE_URL));
  if (found.length !== 1) throw new Error(`README.md: ${found.length} browser blocks open ${ARTICLE_URL}; expected 1`);
  return found[0].body;
}
