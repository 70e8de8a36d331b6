import { test } from 'node:test';
import assert from 'node:assert/strict';
import { suggest } from '../lib/suggest.ts';

const PARSER = ['onEvent', 'onRetry', 'onComment', 'onError', 'maxLineLength', 'maxEventSize'] as const;

test('a name that differs only in case', () => {
  assert.equal(suggest('onevent', PARSER), 'onEvent');
  assert.equal(suggest('maxEventsize', PARSER), 'maxEventSize');
  assert.equal(suggest('MAXLINELENGTH', PARSER), 'maxLineLength');
});

test('typos within two edits: insertion, deletion, substitution, transposition', () => {
  assert.equal(suggest('maxLineLenght', PARSER), 'maxLineLength'); // transposition
  assert.equal(suggest('onEvents', PARSER), 'onEvent'); // insertion
  assert.equal(suggest('onEvnt', PARSER), 'onEvent'); // deletion
  assert.equal(suggest('onRetri', PARSER), 'onRetry'); // substitution
  assert.equal(suggest('maxEvntSise', PARSER), 'maxEventSize'); // two edits
  assert.equal(suggest('maxlinelenhgt', PARSER), 'maxLineLength'); // case and a transposition
});

test('nothing when every name is more than two edits away', () => {
  assert.equal(suggest('maxBufferSize', PARSER), undefined);
  assert.equal(suggest('callback', PARSER), undefined);
  assert.equal(suggest('', PARSER), undefined);
  assert.equal(suggest('x', []), undefined);
});

test('short names: no suggestion needing as many edits as the name has characters', () => {
  assert.equal(suggest('x', ['id']), undefined);
  assert.equal(suggest('ab', ['id']), undefined);
  assert.equal(suggest('i', ['id']), 'id');
  assert.equal(suggest('ib', ['id']), 'id');
  assert.equal(suggest('ID', ['id']), 'id');
});

test('the nearest wins; ties go to the earlier allowed name', () => {
  assert.equal(suggest('onErrar', ['onEvent', 'onError']), 'onError');
  assert.equal(suggest('ab', ['ax', 'ay']), 'ax');
  assert.equal(suggest('ab', ['ay', 'ax']), 'ay');
  assert.equal(suggest('abcd', ['abxy', 'abcx']), 'abcx');
});

test('unrestricted Damerau-Levenshtein: an edit after a transposition counts once', () => {
  // "ca" -> "ac" -> "abc": 2 edits (optimal string alignment would say 3).
  assert.equal(suggest('ca', ['abc']), 'abc');
  assert.equal(suggest('onCaEvent', ['onAbcEvent']), 'onAbcEvent');
  // A transposition is one edit, two are two, three are too many.
  assert.equal(suggest('badc', ['abcd']), 'abcd');
  assert.equal(suggest('badcfe', ['abcdef']), undefined);
});
