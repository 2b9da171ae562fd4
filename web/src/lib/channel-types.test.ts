import { afterEach, describe, expect, it } from 'vitest';
import { currencySymbol, translatedForm, typeName, type ChannelType } from './channel-types';
import { lang } from './i18n';

const AZURE: ChannelType = {
  id: 3, name: 'Azure OpenAI', base_url: '', requires_base_url: true, balance: false, balance_currency: '',
  key_hint: 'AZURE_OPENAI_KEY',
  form: {
    base_url_label: 'AZURE_OPENAI_ENDPOINT',
    other: { label: 'API version', placeholder: '2024-03-01-preview', fallback: '2024-03-01-preview' },
    config: [{ key: 'region', label: 'Region', placeholder: 'us-east-1', textarea: false }],
    key_from_config: false, models_optional: false,
  },
};

afterEach(() => lang.set('en'));

describe('channel types from GET /api/channel/types', () => {
  it('translates the form texts the server sends in English', () => {
    lang.set('zh');
    const form = translatedForm(AZURE);
    expect(form.other).toEqual({ label: 'API 版本', placeholder: '2024-03-01-preview', fallback: '2024-03-01-preview' });
    expect(form.config[0].label).toBe('区域');
    expect([form.keyHint, form.base_url_label]).toEqual(['AZURE_OPENAI_KEY', 'AZURE_OPENAI_ENDPOINT']);
  });
  it('gives an empty form for a type without extra fields or not loaded yet', () => {
    expect(translatedForm(undefined)).toEqual({
      base_url_label: '', other: null, config: [], key_from_config: false, models_optional: false, keyHint: '',
    });
  });
  it('names types and currencies', () => {
    expect(typeName([AZURE], 3)).toBe('Azure OpenAI');
    expect(typeName([AZURE], 99)).toBe('Unknown');
    expect([currencySymbol('CNY'), currencySymbol('USD'), currencySymbol('')]).toEqual(['¥', '$', '$']);
  });
});
