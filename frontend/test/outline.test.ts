// The notebook's outline (table of contents, collapsible sections) and the kernelspecs reply.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { headingLevel, headingsOf, hiddenCells, hiddenCount, outline, plainText } from '../src/logic/outline';
import { parseKernelSpecs } from '../src/protocol/kernels';

const md = (id: string, source: string) => ({ id, type: 'markdown', source });
const py = (id: string, source = 'x = 1') => ({ id, type: 'code', source });

test('outline: ATX headings outside code fences, with their inline Markdown dropped', () => {
  assert.deepEqual(headingsOf('# Title\ntext\n## **Bold** and `code` ##\n```\n# not a heading\n```\n### [Link](http://x)'), [
    { level: 1, text: 'Title' }, { level: 2, text: 'Bold and code' }, { level: 3, text: 'Link' },
  ]);
  assert.deepEqual(headingsOf('#hashtag\n####### seven\n    # indented code'), []);
  assert.deepEqual(headingsOf('~~~\n# in a tilde fence\n~~~\n#'), [{ level: 1, text: '' }]);
  assert.equal(plainText('_a_ <b>b</b> ![img](x.png)'), 'a b img');
});

test('outline: every heading of the Markdown cells in notebook order; code cells never count', () => {
  const cells = [md('a', '# One\n## One.1'), py('b', '# a comment'), md('c', 'no heading'), md('d', '## Two')];
  assert.deepEqual(outline(cells).map((h) => [h.cellId, h.level, h.text]), [
    ['a', 1, 'One'], ['a', 2, 'One.1'], ['d', 2, 'Two'],
  ]);
  assert.equal(headingLevel(cells[0]!), 1);
  assert.equal(headingLevel(cells[1]!), null);
  assert.equal(headingLevel(cells[2]!), null);
});

test('outline: a collapsed heading hides the cells under it up to the next heading of its level or higher', () => {
  const cells = [md('h1', '# A'), py('c1'), md('h2', '## A.1'), py('c2'), md('h3', '# B'), py('c3')];
  assert.deepEqual([...hiddenCells(cells, new Set(['h1'])).keys()], ['c1', 'h2', 'c2']);
  assert.deepEqual([...hiddenCells(cells, new Set(['h2'])).keys()], ['c2']);
  assert.deepEqual([...hiddenCells(cells, new Set(['h3'])).keys()], ['c3']);
  // Nested: the outer heading hides all, each hidden cell maps to it.
  const both = hiddenCells(cells, new Set(['h1', 'h2']));
  assert.deepEqual([...both.values()], ['h1', 'h1', 'h1']);
  assert.equal(hiddenCount(both, 'h1'), 3);
  assert.equal(hiddenCount(both, 'h2'), 0);
  // A collapsed id that is not a heading cell (or is gone) hides nothing.
  assert.equal(hiddenCells(cells, new Set(['c1', 'gone'])).size, 0);
  assert.equal(hiddenCells(cells, new Set()).size, 0);
});

test('kernelspecs: the reply read defensively, sorted by display name', () => {
  const parsed = parseKernelSpecs({
    default: 'python3',
    kernelspecs: {
      python3: { name: 'python3', spec: { display_name: 'Python 3 (ipykernel)', language: 'python' } },
      ir: { name: 'ir', spec: { display_name: 'R', language: 'R' } },
      bare: { name: 'bare' },
      broken: { spec: { display_name: 'no name' } },
      junk: 42,
    },
  });
  assert.equal(parsed.default, 'python3');
  assert.deepEqual(parsed.specs.map((s) => [s.name, s.displayName, s.language]), [
    ['bare', 'bare', ''], ['python3', 'Python 3 (ipykernel)', 'python'], ['ir', 'R', 'R'],
  ]);
  assert.deepEqual(parseKernelSpecs(null), { default: '', specs: [] });
});
