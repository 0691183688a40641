/**
 * The app's theme: light or dark, following the system (`prefers-color-scheme`, as
 * style.css does). Parts that cannot read the app's CSS variables (the sandboxed frames of
 * HTML outputs) are told the theme and told again when it changes.
 */
export type Theme = 'light' | 'dark';

const DARK = '(prefers-color-scheme: dark)';

function query(): MediaQueryList | null {
  return typeof window !== 'undefined' && typeof window.matchMedia === 'function' ? window.matchMedia(DARK) : null;
}

export function currentTheme(): Theme {
  return query()?.matches ? 'dark' : 'light';
}

/** Call `listener` with the new theme whenever it changes; returns the unsubscribe. */
export function onThemeChange(listener: (theme: Theme) => void): () => void {
  const list = query();
  if (!list) return () => {};
  const changed = (): void => listener(currentTheme());
  list.addEventListener('change', changed);
  return () => list.removeEventListener('change', changed);
}
