import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { NAME_RULE, assertValidName, formatTag, isValidName, isValidVersion, parseTag } from './tag.ts';

const code = (c: string) => (err: unknown) => isTiffinError(err) && err.code === c;

test('names follow the rule: lowercase letters, digits, - . _ inside, alphanumeric ends, at most 63', () => {
  for (const ok of ['a', '7', 'iris', 'resnet-50', 'a.b_c-d', 'v1.2.3', 'x'.repeat(63)]) assert.ok(isValidName(ok), ok);
  for (const bad of ['', 'Iris', '-a', 'a-', '.a', 'a.', '_a', 'a b', 'a/b', 'a:b', 'é', 'x'.repeat(64), '..']) {
    assert.ok(!isValidName(bad), bad);
    assert.throws(() => assertValidName(bad), (err: unknown) => {
      assert.ok(isTiffinError(err, 'INVALID_NAME'));
      assert.ok(err.message.includes(NAME_RULE), 'the error states the rule');
      return true;
    });
  }
});

test('"latest" is reserved: a valid name, never a version', () => {
  assert.ok(isValidName('latest'));
  assert.ok(!isValidVersion('latest'));
  assert.throws(() => formatTag('iris', 'latest'), (err: unknown) => isTiffinError(err, 'INVALID_NAME') && /reserved/.test(err.message));
});

test('parseTag splits name:version; a bare name and name:latest mean the newest version', () => {
  assert.deepEqual(parseTag('iris'), { name: 'iris' });
  assert.deepEqual(parseTag('iris:latest'), { name: 'iris' });
  assert.deepEqual(parseTag('iris:1.0.0'), { name: 'iris', version: '1.0.0' });
  assert.deepEqual(parseTag('latest:v2'), { name: 'latest', version: 'v2' });
});

test('parseTag rejects malformed tags with INVALID_TAG and bad parts with INVALID_NAME', () => {
  for (const bad of ['', ':', 'iris:', ':v1', 'a:b:c']) {
    assert.throws(() => parseTag(bad), code('INVALID_TAG'), bad);
  }
  assert.throws(() => parseTag('Iris:1'), code('INVALID_NAME'));
  assert.throws(() => parseTag('iris:V1'), code('INVALID_NAME'));
  assert.throws(() => parseTag('iris:-1'), code('INVALID_NAME'));
  assert.throws(() => parseTag('iris:' + 'x'.repeat(64)), code('INVALID_NAME'));
});

test('formatTag is the inverse of parseTag', () => {
  assert.equal(formatTag('iris'), 'iris');
  assert.equal(formatTag('iris', 'v1'), 'iris:v1');
  assert.equal(formatTag({ name: 'iris', version: 'v1' }), 'iris:v1');
  for (const tag of ['iris', 'iris:v1', 'a.b:c_d']) assert.equal(formatTag(parseTag(tag)), tag);
  assert.throws(() => formatTag('Iris', 'v1'), code('INVALID_NAME'));
});
