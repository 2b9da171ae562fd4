// Channel types as the channel form and list need them, fetched once from GET /api/channel/types (the server's
// rules/channel_types.toml): names, defaults, balance support and each type's extra fields. Labels, hints and
// placeholders arrive in English and are translated here, so they stay in the Chinese table (zh.ts).
import { get } from './api';
import { t } from './i18n';
import { createStore, useStore } from './store';

export interface ConfigField {
  key: string;
  label: string;
  placeholder: string;
  textarea: boolean;
}

export interface TypeForm {
  base_url_label: string;
  /** the channel's `other` column, with its meaning for this type; `fallback` is sent when it is left empty */
  other: { label: string; placeholder: string; fallback: string } | null;
  /** fields stored in the channel's `config` JSON */
  config: ConfigField[];
  /** when the key box is empty, the key is these config values joined with `|` (One API's UI does this) */
  key_from_config: boolean;
  models_optional: boolean;
}

export interface ChannelType {
  id: number;
  name: string;
  base_url: string;
  requires_base_url: boolean;
  balance: boolean;
  balance_currency: string;
  key_hint: string;
  form: TypeForm;
}

export const channelTypes = createStore<ChannelType[]>([]);
let loading: Promise<void> | null = null;

/** Fetch the catalog once per page load (a failed fetch is tried again by the next caller). */
export function loadChannelTypes(): Promise<void> {
  loading ??= get<ChannelType[]>('/api/channel/types').then(
    (types) => channelTypes.set(types ?? []),
    () => {
      loading = null;
    },
  );
  return loading;
}

/** The catalog, loading it on first use; empty until it arrived. */
export function useChannelTypes(): ChannelType[] {
  const types = useStore(channelTypes);
  if (!types.length) void loadChannelTypes();
  return types;
}

export function typeName(types: ChannelType[], id: number): string {
  return types.find((x) => x.id === id)?.name ?? t('Unknown');
}

/** A type's form with its texts in the current language. */
export function translatedForm(type: ChannelType | undefined): TypeForm & { keyHint: string } {
  const form = type?.form;
  return {
    base_url_label: t(form?.base_url_label ?? ''),
    other: form?.other ? { ...form.other, label: t(form.other.label), placeholder: t(form.other.placeholder) } : null,
    config: (form?.config ?? []).map((c) => ({ ...c, label: t(c.label), placeholder: t(c.placeholder) })),
    key_from_config: form?.key_from_config ?? false,
    models_optional: form?.models_optional ?? false,
    keyHint: t(type?.key_hint ?? ''),
  };
}

export function currencySymbol(currency: string): string {
  return currency === 'CNY' ? '¥' : '$';
}

export const CHANNEL_ENABLED = 1;
export const CHANNEL_MANUALLY_DISABLED = 2;
export const CHANNEL_AUTO_DISABLED = 3;
