/**
 * Math in Markdown: `$…$`, `$$…$$`, `\(…\)`, `\[…\]` and `\begin{env}…\end{env}` are taken
 * out before the Markdown renderer sees them (so that `_` and `*` inside formulas are not
 * read as emphasis) and put back, typeset, afterwards. Code spans and fenced code blocks
 * are left alone, and `\$` is a literal dollar.
 */

export interface MathSpan {
  tex: string;
  display: boolean;
}

export interface Extracted {
  text: string;
  math: MathSpan[];
}

const TOKEN = (i: number): string => `HUDDLEMATH${i}X`;
const TOKEN_RE = /HUDDLEMATH(\d+)X/g;

function fenceAt(src: string, i: number): string | null {
  if (i !== 0 && src[i - 1] !== '\n') return null;
  const m = /^ {0,3}(`{3,}|~{3,})/.exec(src.slice(i, i + 200));
  return m ? (m[1] as string) : null;
}

function endOfFence(src: string, start: number, fence: string): number {
  const lineEnd = src.indexOf('\n', start);
  if (lineEnd < 0) return src.length;
  const re = new RegExp(`\\n {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}[ \\t]*(?=\\n|$)`, 'g');
  re.lastIndex = lineEnd;
  const m = re.exec(src);
  return m ? m.index + m[0].length : src.length;
}

function endOfCodeSpan(src: string, i: number): number {
  let n = 0;
  while (src[i + n] === '`') n++;
  const ticks = '`'.repeat(n);
  let j = src.indexOf(ticks, i + n);
  while (j >= 0 && src[j + n] === '`') {
    let k = j;
    while (src[k] === '`') k++;
    j = src.indexOf(ticks, k);
  }
  return j < 0 ? i + n : j + n;
}

interface Delim {
  open: string;
  close: string;
  display: boolean;
}

const DELIMS: Delim[] = [
  { open: '$$', close: '$$', display: true },
  { open: '\\[', close: '\\]', display: true },
  { open: '\\(', close: '\\)', display: false },
  { open: '$', close: '$', display: false },
];

function matchMath(src: string, i: number): { end: number; span: MathSpan } | null {
  const env = /^\\begin\{([a-zA-Z*]+)\}/.exec(src.slice(i, i + 40));
  if (env) {
    const close = `\\end{${env[1]}}`;
    const j = src.indexOf(close, i);
    if (j >= 0) return { end: j + close.length, span: { tex: src.slice(i, j + close.length), display: true } };
  }
  for (const d of DELIMS) {
    if (!src.startsWith(d.open, i)) continue;
    const from = i + d.open.length;
    let j = src.indexOf(d.close, from);
    while (j >= 0 && src[j - 1] === '\\' && d.close === '$') j = src.indexOf(d.close, j + 1);
    if (j < 0) continue;
    const tex = src.slice(from, j);
    if (d.open === '$') {
      // Pandoc's rule: no space just inside the dollars, no digit right after the closing
      // one ("costs $5 and $6" is not math), and no paragraph break inside.
      if (!tex || /^\s|\s$/.test(tex) || /\d/.test(src[j + 1] ?? '') || tex.includes('\n\n')) continue;
    }
    if (!tex.trim()) continue;
    return { end: j + d.close.length, span: { tex, display: d.display } };
  }
  return null;
}

export function extractMath(src: string): Extracted {
  const math: MathSpan[] = [];
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    const fence = c === '`' || c === '~' || c === ' ' ? fenceAt(src, i) : null;
    if (fence) {
      const end = endOfFence(src, i, fence);
      out += src.slice(i, end);
      i = end;
    } else if (c === '`') {
      const end = endOfCodeSpan(src, i);
      out += src.slice(i, end);
      i = end;
    } else if (c === '\\' && src[i + 1] === '$') {
      out += '\\$';
      i += 2;
    } else if (c === '$' || c === '\\') {
      const found = matchMath(src, i);
      if (found) {
        out += TOKEN(math.length);
        math.push(found.span);
        i = found.end;
      } else {
        out += c;
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, math };
}

/** Puts typeset math back where `extractMath` left tokens. */
export function restoreMath(html: string, typeset: (span: MathSpan) => string, math: MathSpan[]): string {
  return html.replace(TOKEN_RE, (token, n: string) => {
    const span = math[Number(n)];
    return span ? typeset(span) : token;
  });
}
