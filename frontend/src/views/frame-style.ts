/**
 * The stylesheet of the sandboxed frames that HTML outputs render in: JupyterLab's rules
 * for rendered HTML (jp-RenderedHTMLCommon: tables without outer borders, a bold header
 * over one rule, right-aligned cells, zebra rows, a hover colour; readable code and links)
 * in both themes. The frame cannot see the app's CSS variables, so each theme's colours
 * are here, chosen by the frame root's `data-theme` (set from views/theme.ts).
 */
import type { Theme } from './theme';

const THEMES: Record<Theme, string> = {
  // JupyterLab light: layout-color0, md-grey-100 rows, md-light-blue-50 hover.
  light: '--fg:#1f2328;--bg:#ffffff;--muted:#656d76;--rule:#616161;--zebra:#f5f5f5;--hover:#e1f5fe;--code:#f6f8fa;--link:#0969da;color-scheme:light',
  // The app's dark background; rows a step lighter, hover a dark blue that keeps text readable.
  dark: '--fg:#e6edf3;--bg:#0d1117;--muted:#8d96a0;--rule:#8d96a0;--zebra:#161b22;--hover:#0c2d48;--code:#161b22;--link:#4493f8;color-scheme:dark',
};

const RULES = [
  ":root{" + THEMES.light + "}",
  ":root[data-theme='dark']{" + THEMES.dark + "}",
  // Paper is white whatever the screen's theme (style.css prints the app light too).
  "@media print{:root,:root[data-theme='dark']{" + THEMES.light + "}}",
  'html,body{margin:0;padding:0;background:var(--bg);color:var(--fg);font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif}',
  'a{color:var(--link)}',
  'pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;font-size:12px}',
  'pre{background:var(--code);padding:6px 8px;overflow-x:auto;border-radius:3px}',
  'img{max-width:100%}',
  // JupyterLab's table rules (pandas writes border="1": the rules below win over it).
  'table{border-collapse:collapse;border-spacing:0;border:none;color:var(--fg);font-size:12px;table-layout:fixed;margin:0 0 1em 0}',
  'thead{border-bottom:1px solid var(--rule);vertical-align:bottom}',
  'td,th,tr{text-align:right;vertical-align:middle;padding:.5em;line-height:normal;white-space:normal;max-width:none;border:none}',
  'th{font-weight:bold}',
  'tbody tr:nth-child(odd){background:var(--bg)}',
  'tbody tr:nth-child(even){background:var(--zebra)}',
  'tbody tr:hover{background:var(--hover)}',
  'caption{color:var(--muted);padding:.3em}',
].join('\n');

/** The `<style>` for a frame's head. */
export function frameStyle(): string {
  return `<style>${RULES}</style>`;
}
