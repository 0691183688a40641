// Follow mode and scroll anchoring: the pure decisions behind them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { anchorCorrection, firstBelow } from '../src/logic/anchor';
import { followScroll, followStep, followStopReason, inView, stopMessage } from '../src/logic/follow';

const view = { top: 100, bottom: 900 }; // below a 100 px sticky header, 900 px window

test('follow: a cell wholly in view needs no scroll, one out of view is put a third down', () => {
  assert.equal(inView({ top: 300, bottom: 400 }, view), true);
  assert.equal(followScroll({ top: 300, bottom: 400 }, view), 0);
  assert.equal(inView({ top: 95, bottom: 200 }, view), true, 'a few pixels under the header still counts');
  // Far below: scrolled so that its top is a third of the free space down.
  const below = { top: 5000, bottom: 5100 };
  const dy = followScroll(below, view);
  const after = { top: below.top - dy, bottom: below.bottom - dy };
  assert.equal(inView(after, view), true);
  assert.equal(after.top, 100 + Math.round((800 - 100) / 3));
  // Far above: scrolled up (negative), same place.
  const above = { top: -3000, bottom: -2900 };
  const up = followScroll(above, view);
  assert.ok(up < 0);
  assert.equal(above.top - up, after.top);
  // Half out of view at the bottom: brought in.
  assert.notEqual(followScroll({ top: 850, bottom: 950 }, view), 0);
});

test('follow: a cell taller than the view is shown from its top, and counts as in view when it fills much of it', () => {
  const tall = { top: 2000, bottom: 4000 };
  const dy = followScroll(tall, view);
  assert.equal(tall.top - dy, view.top + 8);
  assert.equal(inView({ top: -500, bottom: 1500 }, view), true, 'covers the whole view');
  assert.equal(inView({ top: -1900, bottom: 150 }, view), false, 'only its last 50 px show');
});

test('follow: each presence update says what to do', () => {
  assert.deepEqual(followStep({ clientId: 1, present: false, activeCellId: 'c' }), { kind: 'stop', reason: 'left' });
  assert.deepEqual(followStep({ clientId: 1, present: true, activeCellId: null }), { kind: 'idle' });
  assert.deepEqual(followStep({ clientId: 1, present: true, activeCellId: 'c' }), { kind: 'check', cellId: 'c' });
});

test('follow: scrolling or typing stops it; Tab, modifiers and the follow controls do not', () => {
  assert.equal(followStopReason({ type: 'wheel' }), 'scrolled');
  assert.equal(followStopReason({ type: 'touchmove' }), 'scrolled');
  assert.equal(followStopReason({ type: 'keydown', key: 'PageDown' }), 'scrolled');
  assert.equal(followStopReason({ type: 'keydown', key: 'ArrowUp' }), 'scrolled');
  assert.equal(followStopReason({ type: 'keydown', key: 'x' }), 'typed');
  assert.equal(followStopReason({ type: 'keydown', key: 'Enter' }), 'typed');
  for (const key of ['Shift', 'Control', 'Alt', 'Meta', 'Tab', 'Escape']) {
    assert.equal(followStopReason({ type: 'keydown', key }), null, key);
  }
  assert.equal(followStopReason({ type: 'pointerdown', onScrollbar: true }), 'scrolled');
  assert.equal(followStopReason({ type: 'pointerdown' }), null, 'a click in the page');
  assert.equal(followStopReason({ type: 'keydown', key: 'Enter', onFollowControls: true }), null);
  assert.equal(followStopReason({ type: 'wheel', onFollowControls: true }), null);
  assert.equal(followStopReason({ type: 'scroll' }), null, 'the page scrolling itself');
  assert.equal(stopMessage('Ada', 'scrolled'), 'Stopped following Ada: you scrolled');
  assert.equal(stopMessage('Ada', 'left'), 'Stopped following Ada: they left');
});

test('anchor: first item whose bottom is below a line, by binary search', () => {
  const bottoms = [10, 20, 30, 40, 50];
  let measured = 0;
  const bottomOf = (i: number): number => (measured++, bottoms[i]!);
  assert.equal(firstBelow(5, bottomOf, 25), 2);
  assert.equal(firstBelow(5, bottomOf, 20), 2, 'an item ending exactly on the line is above it');
  assert.equal(firstBelow(5, bottomOf, 0), 0);
  assert.equal(firstBelow(5, bottomOf, 50), -1);
  assert.equal(firstBelow(0, bottomOf, 0), -1);
  measured = 0;
  const many = Array.from({ length: 1000 }, (_, i) => (i + 1) * 30);
  assert.equal(firstBelow(1000, (i) => (measured++, many[i]!), 15_015), 500);
  assert.ok(measured <= 11, `${measured} measurements for 1000 cells`);
});

test('anchor: content growing above moves the anchor down; the correction scrolls by as much', () => {
  const recorded = { offset: 40, scrollY: 2000 };
  assert.equal(anchorCorrection(recorded, 40, 2000), 0, 'nothing moved');
  assert.equal(anchorCorrection(recorded, 340, 2000), 300, 'an output 300 px taller above');
  assert.equal(anchorCorrection(recorded, -60, 2000), -100, 'a cell above deleted');
  assert.equal(anchorCorrection(recorded, 40.3, 2000), 0, 'sub-pixel rounding is no jump');
  assert.equal(anchorCorrection(recorded, 340, 2300), 0, 'the page was scrolled meanwhile (by you): not a jump');
});
