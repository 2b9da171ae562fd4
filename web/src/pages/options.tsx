// Root's option editor: one card per group, switches save at once, text fields with the group's Save button.
import { useEffect, useState } from 'preact/hooks';
import { attempt, toast } from '../components/feedback';
import { Field, JsonEditor, Toggle } from '../components/form';
import { PriceImport } from '../components/price-import';
import { call, get } from '../lib/api';
import { renderQuota } from '../lib/format';
import { t } from '../lib/i18n';
import { isSecretKey, OPTION_GROUPS, type OptionField, type OptionGroup, type OptionTab } from '../lib/option-groups';
import { loadStatus, status } from '../lib/status';
import { useStore } from '../lib/store';
import { checkRatioJson, checkTierJson, formatJson } from '../lib/validate';

const NOTICE_SEEN = 'notice_seen';
const RATIO_KEYS = new Set(['ModelRatio', 'CompletionRatio', 'GroupRatio', 'CacheReadRatio', 'CacheWrite5mRatio',
  'CacheWrite1hRatio', 'AudioInputRatio', 'AudioOutputRatio', 'LongContextRatio']);

type Values = Record<string, string>;

async function save(key: string, value: string): Promise<boolean> {
  return (await attempt(() => call('PUT', '/api/option/', { key, value }))) !== undefined;
}

function FieldEditor({ field, value, onChange }: { field: OptionField; value: string; onChange: (v: string) => void }) {
  const s = useStore(status);
  const input = (e: Event) => onChange((e.currentTarget as HTMLInputElement).value);
  switch (field.kind) {
    case 'ratio':
      return <JsonEditor name={field.key} value={value} onChange={onChange} check={checkRatioJson} rows={10} />;
    case 'tiers':
      return <JsonEditor name={field.key} value={value} onChange={onChange} check={checkTierJson} rows={10} />;
    case 'textarea':
      return <textarea class="input" name={field.key} rows={6} value={value} onInput={input} />;
    case 'secret':
      return <input class="input" type="password" name={field.key} value={value} onInput={input} autoComplete="new-password"
        placeholder={t('Hidden; type a new value to change it')} />;
    case 'theme':
      return (
        <select class="input" name={field.key} value={value || 'default'} onChange={input}>
          {['default', 'berry', 'air'].map((x) => <option key={x} value={x}>{x}</option>)}
        </select>
      );
    case 'quota': {
      const n = Number(value);
      return (
        <>
          <input class="input" name={field.key} inputMode="numeric" value={value} onInput={input} />
          {Number.isFinite(n) && value !== '' && <span class="field-hint">{t('= {shown}', { shown: renderQuota(n, s) })}</span>}
        </>
      );
    }
    default:
      return <input class="input" name={field.key} inputMode={field.kind === 'number' ? 'decimal' : undefined} value={value} onInput={input} />;
  }
}

function GroupCard({ group, values, setValues, reload }: { group: OptionGroup; values: Values; setValues: (v: Values) => void; reload: () => void }) {
  const [draft, setDraft] = useState<Values>({});
  const [importing, setImporting] = useState(false);
  const [busy, setBusy] = useState(false);
  const current = (key: string) => draft[key] ?? (isSecretKey(key) ? '' : values[key] ?? '');
  const changed = group.fields.filter((fd) => fd.kind !== 'bool' && key_changed(fd.key));
  function key_changed(key: string): boolean {
    if (!(key in draft)) return false;
    return isSecretKey(key) ? draft[key] !== '' : draft[key] !== (values[key] ?? '');
  }
  const invalid = changed.some((fd) => (fd.kind === 'ratio' && !checkRatioJson(draft[fd.key]).ok)
    || (fd.kind === 'tiers' && !checkTierJson(draft[fd.key]).ok));

  const toggle = async (key: string, on: boolean) => {
    if (await save(key, on ? 'true' : 'false')) {
      setValues({ ...values, [key]: on ? 'true' : 'false' });
      toast.success(t('Saved'));
      loadStatus().catch(() => undefined);
    }
  };
  const submit = async () => {
    setBusy(true);
    const saved: Values = {};
    for (const fd of changed) {
      if (await save(fd.key, draft[fd.key])) saved[fd.key] = draft[fd.key];
      else break;
      if (fd.key === 'Notice') localStorage.setItem(NOTICE_SEEN, draft[fd.key]);   // its author needs no pop-up
    }
    setBusy(false);
    if (Object.keys(saved).length) {
      setValues({ ...values, ...Object.fromEntries(Object.entries(saved).filter(([k]) => !isSecretKey(k))) });
      const rest = { ...draft };
      for (const k of Object.keys(saved)) delete rest[k];
      setDraft(rest);
      toast.success(t('Saved'));
      loadStatus().catch(() => undefined);
    }
  };
  const fetchWellKnown = async () => {
    const url = current('OidcWellKnown');
    try {
      const doc = await (await fetch(url)).json();
      setDraft({ ...draft, OidcAuthorizationEndpoint: doc.authorization_endpoint ?? '', OidcTokenEndpoint: doc.token_endpoint ?? '',
        OidcUserinfoEndpoint: doc.userinfo_endpoint ?? '' });
    } catch (e) {
      toast.error(t('Could not read the well-known document: {error}', { error: String((e as Error).message) }));
    }
  };
  const hasText = group.fields.some((fd) => fd.kind !== 'bool');
  return (
    <section class="card" data-group={group.id}>
      <h2>{t(group.title)}</h2>
      <div class="form-grid">
        {group.fields.map((fd) => fd.kind === 'bool' ? (
          <div class="field" key={fd.key}>
            <Toggle name={fd.key} checked={values[fd.key] === 'true'} onChange={(on) => toggle(fd.key, on)} label={t(fd.label)} />
          </div>
        ) : (
          <Field key={fd.key} label={t(fd.label)} hint={fd.hint && t(fd.hint)} wide={fd.kind === 'ratio' || fd.kind === 'textarea'}>
            <FieldEditor field={fd} value={current(fd.key)} onChange={(v) => setDraft({ ...draft, [fd.key]: v })} />
          </Field>
        ))}
      </div>
      {hasText && (
        <div class="form-actions">
          {group.id === 'oidc' && <button class="btn" type="button" onClick={fetchWellKnown} disabled={!current('OidcWellKnown')}>{t('Fill from well-known')}</button>}
          {group.id === 'ratio' && <button class="btn" type="button" onClick={() => setImporting(true)} data-testid="import-prices">{t('Import prices')}</button>}
          <button class="btn btn-primary" disabled={busy || changed.length === 0 || invalid} onClick={submit} data-testid={`save-${group.id}`}>
            {t('Save {group}', { group: t(group.title) })}
          </button>
        </div>
      )}
      {importing && <PriceImport onClose={() => setImporting(false)} onApplied={() => { setDraft({}); reload(); }} />}
    </section>
  );
}

export function OptionsTab({ tab }: { tab: OptionTab }) {
  const [values, setValues] = useState<Values | null>(null);
  const load = () => {
    attempt(() => get<{ key: string; value: string }[]>('/api/option/')).then((list) => {
      // ratios are shown (and saved) pretty-printed, as One API's settings page does
      if (list) setValues(Object.fromEntries(list.map((o) => [o.key, RATIO_KEYS.has(o.key) ? formatJson(o.value) : o.value])));
    });
  };
  useEffect(load, []);
  if (!values) return <div class="empty">{t('Loading…')}</div>;
  return (
    <div class="stack">
      {OPTION_GROUPS[tab].map((group) => <GroupCard key={group.id} group={group} values={values} setValues={setValues} reload={load} />)}
    </div>
  );
}
