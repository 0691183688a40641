/**
 * Keeping what you look at still: when something above it changes size (someone else's
 * output grows, a cell far above is mounted or deleted), the page scrolls by the same
 * amount, so the element at the top of your viewport stays where it was. The browser's
 * own scroll anchoring (`overflow-anchor`) is turned off so that this is the only
 * mechanism, the same in every browser. The math is here (pure); `views/cells.ts` measures.
 */

/**
 * Index of the first of `count` vertically ordered items whose bottom is below `y`, or -1
 * when none is: a binary search, so a 1000-cell notebook costs ~10 measurements.
 */
export function firstBelow(count: number, bottomOf: (index: number) => number, y: number): number {
  let lo = 0;
  let hi = count; // answer in [lo, hi]; hi = count means none
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bottomOf(mid) > y) hi = mid;
    else lo = mid + 1;
  }
  return lo < count ? lo : -1;
}

/** Where an anchor was: its top relative to the viewport's top, and the page's scroll. */
export interface AnchorRecord {
  offset: number;
  scrollY: number;
}

/** Below this many pixels a drift is rounding, not a jump. */
export const ANCHOR_TOLERANCE_PX = 0.5;

/**
 * How far to scroll (positive = down) to put an anchor back: 0 when it has not moved, or
 * when the page was scrolled since it was recorded (then it is your scroll, not a jump,
 * and the anchor is to be recorded afresh).
 */
export function anchorCorrection(recorded: AnchorRecord, offsetNow: number, scrollYNow: number): number {
  if (Math.abs(scrollYNow - recorded.scrollY) > ANCHOR_TOLERANCE_PX) return 0;
  const drift = offsetNow - recorded.offset;
  return Math.abs(drift) > ANCHOR_TOLERANCE_PX ? drift : 0;
}
