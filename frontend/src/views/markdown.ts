/** Markdown (cells and outputs) to sanitized HTML, with math typeset by KaTeX. Nothing a
 * notebook or a collaborator writes can run script in the app: DOMPurify has the last word.
 * Nor can it cover the app: inline styles keep only allowlisted declarations
 * (logic/css.ts), the app's own classes are taken off, popovers (the top layer) are
 * refused, and style.css contains every `.hd-markdown` box in its own paint area. */
import DOMPurify from 'dompurify';
import katex from 'katex';
import MarkdownIt from 'markdown-it';

import { filterStyle } from '../logic/css';
import { extractMath, restoreMath, type MathSpan } from '../logic/math';

/** Classes of the app (`hd-`) and of its editors (`cm-`): a notebook styled as the app's
 * own controls (a toast, a banner, a sticky header) could pass for them. */
const APP_CLASS = /^(?:hd|cm)-/;

const md = new MarkdownIt({ html: true, linkify: true });

let hooked = false;
function installHooks(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook('uponSanitizeAttribute', (node, data) => {
    if (data.attrName !== 'style') return;
    const kept = filterStyle(data.attrValue, { katex: node.closest('.katex-html') !== null });
    if (kept) data.attrValue = kept;
    else data.keepAttr = false;
  });
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node instanceof HTMLAnchorElement && node.hasAttribute('href')) {
      node.setAttribute('target', '_blank');
      node.setAttribute('rel', 'noopener noreferrer');
    }
    for (const name of [...node.classList]) if (APP_CLASS.test(name)) node.classList.remove(name);
    if (node.getAttribute('class') === '') node.removeAttribute('class');
  });
}

export function typeset(span: MathSpan): string {
  return katex.renderToString(span.tex, { displayMode: span.display, throwOnError: false, output: 'htmlAndMathml' });
}

export function sanitize(html: string): string {
  installHooks();
  // Inline styles stay, filtered (KaTeX needs them); style sheets, which could restyle the
  // app, go; so do popovers, which open in the top layer, above any containment.
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ['style', 'form'],
    FORBID_ATTR: ['popover', 'popovertarget', 'popovertargetaction'],
  });
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
