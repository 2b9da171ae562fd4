// Create (one or many keys) or edit a channel, with the fields its type needs and validated model mapping.
import { useEffect, useState } from 'preact/hooks';
import { attempt, toast } from '../components/feedback';
import { Field, JsonEditor, NameList, Toggle } from '../components/form';
import { get, post, put, request } from '../lib/api';
import { translatedForm, useChannelTypes } from '../lib/channel-types';
import type { Channel } from '../lib/channels';
import { t } from '../lib/i18n';
import { navigate } from '../lib/router';
import { checkJsonObject, checkModelMapping, splitList } from '../lib/validate';
import type { PageProps } from '../routes';

interface Form {
  type: number;
  name: string;
  key: string;
  batch: boolean;
  base_url: string;
  other: string;
  config: Record<string, string>;
  models: string[];
  groups: string[];
  model_mapping: string;
  system_prompt: string;
  priority: string;
  weight: string;
}

const EMPTY: Form = {
  type: 1, name: '', key: '', batch: false, base_url: '', other: '', config: {}, models: [], groups: ['default'],
  model_mapping: '', system_prompt: '', priority: '0', weight: '0',
};

function parseConfig(text: string): Record<string, string> {
  const parsed = checkJsonObject(text);
  if (!parsed.ok) return {};
  return Object.fromEntries(Object.entries(parsed.value as Record<string, unknown>).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

export function ChannelEdit({ params }: PageProps) {
  const id = params.id ? Number(params.id) : 0;
  const [form, setForm] = useState<Form>(EMPTY);
  const [defaults, setDefaults] = useState<Record<string, string[]>>({});
  const [catalog, setCatalog] = useState<string[]>([]);
  const [groups, setGroups] = useState<string[]>(['default']);
  const [busy, setBusy] = useState(false);
  const set = (patch: Partial<Form>) => setForm((f) => ({ ...f, ...patch }));
  const types = useChannelTypes();
  const typeInfo = types.find((x) => x.id === form.type);
  const spec = translatedForm(typeInfo);

  useEffect(() => {
    Promise.all([
      attempt(() => get<Record<string, string[]>>('/api/models')),
      attempt(() => request<{ id: string }[]>('GET', '/api/channel/models')),
      attempt(() => get<string[]>('/api/group/')),
    ]).then(([byType, all, names]) => {
      if (byType) setDefaults(byType);
      if (all?.data) setCatalog([...new Set(all.data.map((m) => m.id))].sort());
      if (names) setGroups(names.sort());
      if (!id && byType) setForm((f) => (f.models.length ? f : { ...f, models: byType[String(f.type)] ?? [] }));
    });
    if (!id) return;
    attempt(() => get<Channel>(`/api/channel/${id}`)).then((c) => {
      if (!c) return;
      setForm({
        type: c.type, name: c.name, key: '', batch: false, base_url: c.base_url ?? '', other: c.other ?? '',
        config: parseConfig(c.config), models: splitList(c.models), groups: splitList(c.group),
        model_mapping: c.model_mapping ?? '', system_prompt: c.system_prompt ?? '',
        priority: String(c.priority ?? 0), weight: String(c.weight ?? 0),
      });
    });
  }, [id]);

  const changeType = (type: number) => set(id ? { type } : { type, models: defaults[String(type)] ?? [], other: '', config: {} });
  const mapping = checkModelMapping(form.model_mapping);
  const priority = Number(form.priority);
  const weight = Number(form.weight);

  const submit = async (e: Event) => {
    e.preventDefault();
    const configValues = Object.fromEntries(Object.entries(form.config).filter(([, v]) => v.trim() !== ''));
    let key = form.key.trim();
    // AWS and Vertex AI: One API's UI builds the key from the fields when the key box is left empty
    const parts = spec.config.map((c) => (form.config[c.key] ?? '').trim());
    if (!key && spec.key_from_config && parts.every(Boolean)) key = parts.join('|');
    const problems = [
      !mapping.ok && t('The model mapping is not valid JSON.'),
      !id && !key && t('Enter a key.'),
      form.models.length === 0 && !spec.models_optional && t('Choose at least one model.'),
      typeInfo?.requires_base_url && !form.base_url.trim() && t('This channel type needs a base URL.'),
      (!Number.isInteger(priority) || !Number.isInteger(weight) || weight < 0) && t('Priority and weight must be whole numbers (weight at least 0).'),
      form.groups.length === 0 && t('Choose at least one group.'),
    ].filter(Boolean);
    if (problems.length) return toast.error(String(problems[0]));
    const body: Record<string, unknown> = {
      type: form.type, name: form.name.trim(), base_url: form.base_url.trim().replace(/\/+$/, ''),
      other: form.other.trim() || (spec.other?.fallback ?? ''),
      models: form.models.join(','), group: form.groups.join(','), model_mapping: form.model_mapping.trim(),
      system_prompt: form.system_prompt, priority, weight,
      config: Object.keys(configValues).length ? JSON.stringify(configValues) : '',
    };
    if (key) body.key = form.batch ? key : key.split('\n')[0];
    setBusy(true);
    const done = await attempt(() => (id ? put('/api/channel/', { ...body, id }) : post('/api/channel/', body)));
    setBusy(false);
    if (done === undefined) return;
    const count = form.batch ? key.split('\n').filter((line) => line.trim()).length : 1;
    toast.success(id ? t('Channel updated') : count > 1 ? t('{n} channels created', { n: count }) : t('Channel created'));
    navigate('/channel');
  };

  const input = (k: keyof Form) => (e: Event) => set({ [k]: (e.currentTarget as HTMLInputElement).value } as Partial<Form>);
  return (
    <div class="stack">
      <h1 class="page-title">{id ? t('Edit channel') : t('Add channel')}</h1>
      <form class="card form-grid" onSubmit={submit}>
        <Field label={t('Type')}>
          <select class="input" name="type" value={String(form.type)} onChange={(e) => changeType(Number((e.currentTarget as HTMLSelectElement).value))}>
            {types.map((x) => <option key={x.id} value={String(x.id)}>{x.name}</option>)}
          </select>
        </Field>
        <Field label={t('Name')}>
          <input class="input" name="name" value={form.name} onInput={input('name')} placeholder={t('A name to recognise it by')} />
        </Field>
        <Field label={spec.base_url_label || t('Base URL')} hint={typeInfo?.base_url ? t('Default: {url}', { url: typeInfo.base_url }) : typeInfo?.requires_base_url ? t('Required for this type') : undefined}>
          <input class="input mono" name="base_url" value={form.base_url} onInput={input('base_url')} placeholder={typeInfo?.base_url || 'https://'} />
        </Field>
        {spec.other && (
          <Field label={spec.other.label}>
            <input class="input" name="other" value={form.other} onInput={input('other')} placeholder={spec.other.placeholder || undefined} />
          </Field>
        )}
        {spec.config.map((c) => (
          <Field key={c.key} label={c.label} wide={c.textarea}>
            {c.textarea
              ? <textarea class="input mono" rows={5} name={`config-${c.key}`} value={form.config[c.key] ?? ''}
                  onInput={(e) => set({ config: { ...form.config, [c.key]: (e.currentTarget as HTMLTextAreaElement).value } })} />
              : <input class="input" name={`config-${c.key}`} value={form.config[c.key] ?? ''} placeholder={c.placeholder || undefined}
                  onInput={(e) => set({ config: { ...form.config, [c.key]: (e.currentTarget as HTMLInputElement).value } })} />}
          </Field>
        ))}
        <Field label={t('Key')} wide hint={id ? t('Leave empty to keep the current key.') : spec.keyHint || undefined}>
          <div class="stack-tight">
            {!id && <Toggle name="batch" checked={form.batch} onChange={(batch) => set({ batch })} label={t('Batch create: one channel per line')} />}
            {form.batch
              ? <textarea class="input mono" rows={6} name="key" value={form.key} onInput={input('key')} placeholder={t('One key per line')} />
              : <input class="input mono" name="key" type="password" autoComplete="off" value={form.key} onInput={input('key')} placeholder={spec.keyHint || 'sk-...'} />}
          </div>
        </Field>
        <Field label={t('Groups')} wide>
          <NameList name="groups" values={form.groups} onChange={(g) => set({ groups: g })} suggestions={groups} />
        </Field>
        <Field label={t('Models')} wide hint={spec.models_optional ? t('Optional for this type') : undefined}>
          <div class="stack-tight">
            <NameList name="models" values={form.models} onChange={(models) => set({ models })}
              suggestions={[...new Set([...(defaults[String(form.type)] ?? []), ...catalog])]} />
            <div class="row wrap">
              <button type="button" class="btn btn-small" onClick={() => set({ models: [...new Set([...form.models, ...(defaults[String(form.type)] ?? [])])] })}>
                {t("Add this type's models")}
              </button>
              <button type="button" class="btn btn-small" onClick={() => set({ models: [...new Set([...form.models, ...catalog])] })}>{t('Add every known model')}</button>
              <button type="button" class="btn btn-small" onClick={() => set({ models: [] })}>{t('Clear')}</button>
            </div>
          </div>
        </Field>
        <Field label={t('Model mapping')} wide hint={t('JSON: requested model → model sent upstream, e.g. {"gpt-3.5-turbo": "gpt-35-turbo"}')}>
          <JsonEditor name="model_mapping" value={form.model_mapping} onChange={(model_mapping) => set({ model_mapping })} check={checkModelMapping} rows={4}
            placeholder={'{\n  "gpt-3.5-turbo": "gpt-35-turbo"\n}'} />
        </Field>
        <Field label={t('System prompt')} wide hint={t('When set, replaces the system prompt of every request.')}>
          <textarea class="input" rows={3} name="system_prompt" value={form.system_prompt} onInput={input('system_prompt')} />
        </Field>
        <Field label={t('Priority')} hint={t('Higher is tried first.')}>
          <input class="input" name="priority" inputMode="numeric" value={form.priority} onInput={input('priority')} />
        </Field>
        <Field label={t('Weight')} hint={t('Share of traffic within the same priority.')}>
          <input class="input" name="weight" inputMode="numeric" value={form.weight} onInput={input('weight')} />
        </Field>
        <div class="form-actions">
          <button type="button" class="btn" onClick={() => navigate('/channel')}>{t('Cancel')}</button>
          <button type="submit" class="btn btn-primary" disabled={busy || !mapping.ok} data-testid="submit-channel">{t('Submit')}</button>
        </div>
      </form>
    </div>
  );
}
