// Light and dark: the user's choice in localStorage, else the THEME setting the server wrote into the page.
import { createStore } from './store';

export type Theme = 'light' | 'dark';
const KEY = 'theme';

/** THEME `dark` or `light` pins the default; One API's `default` (and berry/air) follow the browser. */
export function defaultTheme(setting: string, prefersDark: boolean): Theme {
  const value = setting.trim().toLowerCase();
  if (value === 'dark' || value === 'light') return value;
  return prefersDark ? 'dark' : 'light';
}

function initial(): Theme {
  const saved = localStorage.getItem(KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  const setting = document.querySelector('meta[name="one-api-theme"]')?.getAttribute('content') ?? 'default';
  return defaultTheme(setting, window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false);
}

export const theme = createStore<Theme>(typeof document === 'undefined' ? 'light' : initial());

export function applyTheme(next: Theme, persist = false): void {
  document.documentElement.dataset.theme = next;
  if (persist) localStorage.setItem(KEY, next);
  theme.set(next);
}
