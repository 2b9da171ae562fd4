import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { browserLang } from './i18n';
import { OPTION_GROUPS } from './option-groups';
import { zh } from './zh';

const SRC = join(__dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return /\.tsx?$/.test(name) && !name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('translations', () => {
  it('has Chinese for every t("...") literal in the sources', () => {
    const missing: string[] = [];
    for (const file of sources(SRC)) {
      for (const m of readFileSync(file, 'utf8').matchAll(/\bt\(\s*(['"])((?:(?!\1)[^\\]|\\.)*)\1/g)) {
        const key = m[2].replace(/\\(.)/g, '$1');
        if (!(key in zh)) missing.push(`${file}: ${key}`);
      }
    }
    expect(missing).toEqual([]);
  });
  it('has Chinese for every settings group, label and hint', () => {
    const texts = Object.values(OPTION_GROUPS).flat().flatMap((g) => [g.title, ...g.fields.flatMap((f) => [f.label, f.hint ?? ''])]);
    expect(texts.filter((x) => x && !(x in zh))).toEqual([]);
  });
  it('keeps every placeholder in the translation', () => {
    for (const [en, cn] of Object.entries(zh)) {
      const names = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort().join();
      expect(names(cn), en).toBe(names(en));
    }
  });
});

it('defaults to Chinese for a Chinese browser', () => {
  expect(browserLang(['zh-CN', 'en'])).toBe('zh');
  expect(browserLang(['en-US', 'zh-CN'])).toBe('en');
  expect(browserLang(['fr'])).toBe('en');
});
