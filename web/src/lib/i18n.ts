// Chinese and English: English text is the key, `zh` holds the translations; the browser picks the default.
import { createStore } from './store';
import { zh } from './zh';

export type Lang = 'en' | 'zh';
const KEY = 'lang';

export function browserLang(languages: readonly string[]): Lang {
  return languages.some((l) => l.toLowerCase().startsWith('zh')) && !languages[0]?.toLowerCase().startsWith('en')
    ? 'zh'
    : 'en';
}

function initialLang(): Lang {
  const saved = typeof localStorage !== 'undefined' ? localStorage.getItem(KEY) : null;
  if (saved === 'en' || saved === 'zh') return saved;
  return typeof navigator !== 'undefined' ? browserLang(navigator.languages ?? [navigator.language]) : 'en';
}

export const lang = createStore<Lang>(initialLang());

export function setLang(next: Lang): void {
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
  lang.set(next);
}

/** `text` in the current language, `{name}` placeholders filled from `vars`. */
export function t(text: string, vars?: Record<string, string | number>): string {
  let out = lang.get() === 'zh' ? zh[text] ?? text : text;
  if (vars) for (const [name, value] of Object.entries(vars)) out = out.split(`{${name}}`).join(String(value));
  return out;
}
