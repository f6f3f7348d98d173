import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isValidVersion } from './tag.ts';
import { newVersionId, versionIdTime } from './version-id.ts';

test('generated versions are unique, valid version names, and sort in creation order (many in the same ms)', () => {
  const ids: string[] = [];
  for (let i = 0; i < 20_000; i++) ids.push(newVersionId());
  assert.equal(new Set(ids).size, ids.length, 'unique');
  assert.deepEqual([...ids].sort(), ids, 'string order is creation order');
  for (const id of ids.slice(0, 100)) {
    assert.equal(id.length, 26);
    assert.ok(isValidVersion(id), id);
  }
});

test('later times sort later, and a clock stepping back does not break the order', () => {
  const now = Date.now() + 10_000;
  const a = newVersionId(now);
  const b = newVersionId(now + 1);
  const c = newVersionId(now - 5_000); // clock went back: still after b
  assert.ok(a < b && b < c, `${a} < ${b} < ${c}`);
  assert.equal(versionIdTime(a)?.getTime(), now);
});

test('versionIdTime reads the creation time back, and ignores names that are not generated ids', () => {
  const before = Date.now();
  const id = newVersionId();
  const t = versionIdTime(id)?.getTime() ?? 0;
  assert.ok(t >= before - 1 && t <= Date.now() + 20_000);
  assert.equal(versionIdTime('v1'), undefined);
  assert.equal(versionIdTime('u'.repeat(26)), undefined);
});
