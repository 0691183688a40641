/**
 * The inline styles rendered Markdown may keep. DOMPurify keeps `style` (KaTeX needs it),
 * and a Markdown cell's `<div style="position:fixed;inset:0;z-index:2147483647">` once
 * covered every viewer's page. So a style attribute is cut into declarations and only those
 * of an allowlisted property with a value of a strict shape survive, written back in our own
 * form: no url(), var(), expression(), image functions, escapes, `!important`, fixed or
 * absolute positioning, z-index or transforms. The page also contains rendered Markdown in
 * CSS (style.css, `.hd-markdown`): this filter is the first line, not the only one.
 */

const NUM = String.raw`[-+]?(?:\d+(?:\.\d+)?|\.\d+)`;
// No viewport units: a cell's content has no business sizing itself on the window.
const UNIT = '(?:em|ex|px|pt|pc|rem|ch|cm|mm|in|%)';
const LENGTH = `${NUM}${UNIT}?`;
// KaTeX's accents use `calc(100% - 0.2em)`: lengths and operators only, nothing nested.
const CALC = String.raw`calc\(\s*${LENGTH}(?:\s+[-+]\s+${LENGTH}|\s*[*/]\s*${NUM})*\s*\)`;
const COLOR = String.raw`#[0-9a-f]{3,8}|[a-z]{3,20}|(?:rgb|hsl)a?\(\s*[-+\d.%\s,/]+\)`;
const BORDER_STYLE = 'none|hidden|solid|dashed|dotted|double|groove|ridge|inset|outset';
const BORDER_WIDTH = `${LENGTH}|thin|medium|thick`;

const whole = (alternatives: string): RegExp => new RegExp(`^(?:${alternatives})$`, 'i');
/** One to `max` space-separated values, each one of `alternatives`. */
const several = (alternatives: string, max = 4): RegExp =>
  new RegExp(`^(?:${alternatives})(?:\\s+(?:${alternatives})){0,${max - 1}}$`, 'i');
const keywords = (...words: string[]): RegExp => whole(words.join('|'));

const SIZE = whole(`${LENGTH}|${CALC}|auto|none`);
const COLOR_VALUE = whole(COLOR);
const FONT_NAME = `[a-z0-9 -]+|"[a-z0-9 -]+"|'[a-z0-9 -]+'`;

/** Property → the shape its value must have. */
const ALLOWED: ReadonlyMap<string, RegExp> = new Map<string, RegExp>([
  ...['width', 'height', 'min-width', 'max-width', 'min-height', 'max-height'].map((p): [string, RegExp] => [p, SIZE]),
  ...['margin', 'padding'].map((p): [string, RegExp] => [p, several(`${LENGTH}|auto`)]),
  ...['top', 'right', 'bottom', 'left'].flatMap((side): [string, RegExp][] => [
    [`margin-${side}`, whole(`${LENGTH}|auto`)],
    [`padding-${side}`, whole(LENGTH)],
    [`border-${side}`, several(`${BORDER_WIDTH}|${BORDER_STYLE}|${COLOR}`, 3)],
    [`border-${side}-width`, whole(BORDER_WIDTH)],
    [`border-${side}-style`, whole(BORDER_STYLE)],
    [`border-${side}-color`, COLOR_VALUE],
  ]),
  ['border', several(`${BORDER_WIDTH}|${BORDER_STYLE}|${COLOR}`, 3)],
  ['border-width', several(BORDER_WIDTH)],
  ['border-style', several(BORDER_STYLE)],
  ['border-color', several(COLOR)],
  ['border-radius', several(LENGTH)],
  ['border-collapse', keywords('collapse', 'separate')],
  ['color', COLOR_VALUE],
  ['background-color', COLOR_VALUE],
  ['background', COLOR_VALUE], // a colour only: no images
  ['font-weight', keywords('normal', 'bold', 'bolder', 'lighter', '[1-9]00')],
  ['font-style', keywords('normal', 'italic', 'oblique')],
  ['font-variant', keywords('normal', 'small-caps')],
  ['font-size', whole(`${LENGTH}|xx-small|x-small|small|medium|large|x-large|xx-large|smaller|larger`)],
  ['font-family', new RegExp(`^(?:${FONT_NAME})(?:\\s*,\\s*(?:${FONT_NAME}))*$`, 'i')],
  ['text-align', keywords('left', 'right', 'center', 'justify', 'start', 'end')],
  ['text-decoration', several('none|underline|overline|line-through', 3)],
  ['text-transform', keywords('none', 'uppercase', 'lowercase', 'capitalize')],
  ['text-indent', whole(LENGTH)],
  ['text-shadow', several(`${LENGTH}|${COLOR}`)], // KaTeX's \pmb
  ['line-height', whole(`normal|${LENGTH}`)],
  ['letter-spacing', whole(`normal|${LENGTH}`)],
  ['word-spacing', whole(`normal|${LENGTH}`)],
  ['white-space', keywords('normal', 'nowrap', 'pre', 'pre-wrap', 'pre-line')],
  ['vertical-align', whole(`${LENGTH}|baseline|sub|super|text-top|text-bottom|middle|top|bottom`)],
  ['display', keywords('none', 'inline', 'block', 'inline-block', 'flex', 'inline-flex', 'table', 'table-row', 'table-cell', 'list-item')],
  ['list-style-type', keywords('none', 'disc', 'circle', 'square', 'decimal', 'lower-alpha', 'upper-alpha', 'lower-roman', 'upper-roman')],
  // Only the positioning that stays in the flow.
  ['position', keywords('static', 'relative')],
]);

/** Offsets: kept only where the element is positioned relatively (see `StyleContext`). */
const OFFSETS = new Set(['top', 'right', 'bottom', 'left']);
const OFFSET = whole(LENGTH);

/** Characters no kept value needs, which could make the browser read a declaration other
 * than the one checked: escapes, comments, `!important`, markup, declaration ends. */
const SUSPECT = /[\\!<>{};@]|\/\*/;

export interface StyleContext {
  /** The element is inside KaTeX's HTML (`.katex-html`), whose own classes position its
   * boxes relatively: `top`, `left`, `bottom` there shift math parts, as KaTeX intends. */
  katex: boolean;
}

interface Declaration {
  name: string;
  value: string;
}

function declarations(style: string): Declaration[] {
  const found: Declaration[] = [];
  for (const part of style.split(';')) {
    const colon = part.indexOf(':');
    if (colon < 0) continue;
    const name = part.slice(0, colon).trim().toLowerCase();
    const value = part.slice(colon + 1).trim().replace(/\s+/g, ' ');
    if (name && value) found.push({ name, value });
  }
  return found;
}

function allowed({ name, value }: Declaration, positioned: boolean): boolean {
  if (SUSPECT.test(value)) return false;
  if (OFFSETS.has(name)) return positioned && OFFSET.test(value);
  return ALLOWED.get(name)?.test(value) ?? false;
}

/**
 * The declarations of `style` that may stay, as `name:value;…` ('' when none may).
 * Splitting on `;` may cut a declaration the browser would have read whole (a `;` in a
 * quoted string); every part is then checked on its own and a cut one is dropped, so what
 * comes out is always a list of allowed declarations.
 */
export function filterStyle(style: string, context: StyleContext = { katex: false }): string {
  const list = declarations(style);
  const relative = list.some((d) => d.name === 'position' && d.value.toLowerCase() === 'relative');
  return list
    .filter((d) => allowed(d, relative || context.katex))
    .map((d) => `${d.name}:${d.value}`)
    .join(';');
}
