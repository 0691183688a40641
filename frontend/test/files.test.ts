import assert from 'node:assert/strict';
import { test } from 'node:test';

import { CHUNK_BYTES, formatBytes, movedPath, uploadPlan } from '../src/logic/upload-plan';
import { Upload } from '../src/protocol/uploads';

test('upload plan: a small file is one ordinary save, never a lone chunk -1 (it would append)', () => {
  assert.deepEqual(uploadPlan(0, 10), [{ start: 0, end: 0, chunk: null }]);
  assert.deepEqual(uploadPlan(10, 10), [{ start: 0, end: 10, chunk: null }]);
});

test('upload plan: chunks 1..n-1 then -1, covering every byte once', () => {
  assert.deepEqual(uploadPlan(25, 10), [
    { start: 0, end: 10, chunk: 1 }, { start: 10, end: 20, chunk: 2 }, { start: 20, end: 25, chunk: -1 }]);
  assert.deepEqual(uploadPlan(20, 10), [{ start: 0, end: 10, chunk: 1 }, { start: 10, end: 20, chunk: -1 }]);
  const big = uploadPlan(200 * 1024 * 1024 + 1);
  assert.equal(big.length, 101);
  assert.equal(big[0]!.chunk, 1);
  assert.equal(big.at(-1)!.chunk, -1);
  assert.equal(big.at(-1)!.end - big.at(-1)!.start, 1);
  big.slice(1).forEach((piece, i) => assert.equal(piece.start, big[i]!.end));
});

test('upload plan: refuses nonsense sizes', () => {
  assert.throws(() => uploadPlan(-1));
  assert.throws(() => uploadPlan(10, 0));
  assert.throws(() => uploadPlan(Number.NaN));
});

test('sizes read as file managers show them', () => {
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1500), '1.5 kB');
  assert.equal(formatBytes(200 * 1024 * 1024), '210 MB');
  assert.equal(formatBytes(12_500_000), '13 MB');
});

test('moving into a folder keeps the name; dot segments are refused', () => {
  assert.equal(movedPath('a/b/data.csv', 'x/y'), 'x/y/data.csv');
  assert.equal(movedPath('a/data.csv', ''), 'data.csv');
  assert.equal(movedPath('data.csv', '/x/'), 'x/data.csv');
  assert.equal(movedPath('data.csv', '../up'), null);
  assert.equal(movedPath('data.csv', 'x//y'), null);
});

const nodeBase64 = async (piece: Blob): Promise<string> => Buffer.from(await piece.arrayBuffer()).toString('base64');

/** A contents API that records pieces and deletions; `hold` makes savePiece wait. */
function fakeContents(): { api: never; calls: string[]; release(): void; hold: boolean } {
  const state = { calls: [] as string[], hold: false, waiting: [] as (() => void)[] };
  const api = {
    savePiece: async (path: string, base64: string, chunk: number | null) => {
      state.calls.push(`PUT ${path} ${chunk} ${Buffer.from(base64, 'base64').toString()}`);
      if (state.hold) await new Promise<void>((resolve) => state.waiting.push(resolve));
      return { name: path, path, type: 'file', last_modified: '' };
    },
    remove: async (path: string) => { state.calls.push(`DELETE ${path}`); },
  };
  return {
    api: api as never, calls: state.calls,
    get hold() { return state.hold; }, set hold(v: boolean) { state.hold = v; },
    release: () => state.waiting.splice(0).forEach((resolve) => resolve()),
  };
}

test('an upload sends its pieces in order, base64, and ends done', async () => {
    const fake = fakeContents();
  const upload = new Upload(fake.api, new Blob(['hello']), 'h.txt', 'dir/h.txt', nodeBase64);
  await upload.run();
  assert.equal(upload.state, 'done');
  assert.equal(upload.sent, 5);
  assert.deepEqual(fake.calls, ['PUT dir/h.txt null hello']);
});

test('cancel waits for the piece in flight, then deletes the partial file', async () => {
    const fake = fakeContents();
  const size = CHUNK_BYTES * 3;
  const upload = new Upload(fake.api, new Blob([new Uint8Array(size).fill(65)]), 'a.bin', 'a.bin', nodeBase64);
  fake.hold = true;
  const running = upload.run();
  while (fake.calls.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  upload.cancel();
  assert.equal(upload.state, 'cancelling');
  assert.ok(!fake.calls.some((c) => c.startsWith('DELETE')), 'nothing deleted while a piece is in flight');
  fake.release();
  await running;
  assert.equal(upload.state, 'cancelled');
  assert.equal(fake.calls.length, 2);
  assert.match(fake.calls[0]!, /^PUT a\.bin 1 A+$/);
  assert.equal(fake.calls[1], 'DELETE a.bin');
});
