/** Markdown (cells and outputs) to sanitized HTML, with math typeset by KaTeX. Nothing a
 * notebook or a collaborator writes can run script in the app: DOMPurify has the last word. */
import DOMPurify from 'dompurify';
import katex from 'katex';
import MarkdownIt from 'markdown-it';

import { extractMath, restoreMath, type MathSpan } from '../logic/math';

const md = new MarkdownIt({ html: true, linkify: true });

let hooked = false;
function installHooks(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node instanceof HTMLAnchorElement && node.hasAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
}

export function typeset(span: MathSpan): string {
  return katex.renderToString(span.tex, { displayMode: span.display, throwOnError: false, output: 'htmlAndMathml' });
}

export function sanitize(html: string): string {
  installHooks();
  // Inline styles stay (KaTeX needs them); style sheets, which could restyle the app, go.
  return DOMPurify.sanitize(html, { FORBID_TAGS: ['style', 'form'] });
}

export function renderMarkdown(source: string): string {
  const { text, math } = extractMath(source);
  return sanitize(restoreMath(md.render(text), typeset, math));
}

/** A review comment: Markdown where raw HTML shows as typed (not as elements), math
 * typeset, sanitized all the same. */
const commentMd = new MarkdownIt({ html: false, linkify: true, breaks: true });

export function renderCommentMarkdown(source: string): string {
  const { text, math } = extractMath(source);
  return sanitize(restoreMath(commentMd.render(text), typeset, math));
}

/** A `text/latex` output: usually `$$…$$`, sometimes bare TeX. */
export function renderLatex(source: string): string {
  const trimmed = source.trim();
  const { math } = extractMath(trimmed);
  if (math.length) return renderMarkdown(trimmed);
  return sanitize(typeset({ tex: trimmed, display: true }));
}
