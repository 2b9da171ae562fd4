// Form pieces: labelled fields, switches, a list-of-names editor with suggestions, a validated JSON editor.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { t } from '../lib/i18n';
import { formatJson, splitList, type Check } from '../lib/validate';

interface FieldProps {
  label: ComponentChildren;
  hint?: ComponentChildren;
  error?: string | null;
  children: ComponentChildren;
  wide?: boolean;
}

export function Field({ label, hint, error, children, wide }: FieldProps) {
  return (
    <label class={wide ? 'field field-wide' : 'field'}>
      <span class="field-label">{label}</span>
      {children}
      {error ? <span class="field-error">{error}</span> : hint ? <span class="field-hint">{hint}</span> : null}
    </label>
  );
}

interface ToggleProps {
  checked: boolean;
  onChange: (checked: boolean) => void;
  label: ComponentChildren;
  disabled?: boolean;
  name?: string;
}

export function Toggle({ checked, onChange, label, disabled, name }: ToggleProps) {
  return (
    <label class="toggle">
      <input type="checkbox" name={name} checked={checked} disabled={disabled}
        onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked)} />
      <span class="toggle-track" aria-hidden="true" />
      <span>{label}</span>
    </label>
  );
}

interface ListProps {
  values: string[];
  onChange: (values: string[]) => void;
  suggestions?: string[];
  placeholder?: string;
  name: string;
}

/** Names as removable chips; type or paste (comma/newline separated) to add, with suggestions. */
export function NameList({ values, onChange, suggestions = [], placeholder, name }: ListProps) {
  const [draft, setDraft] = useState('');
  const listId = `${name}-suggestions`;
  const add = (text: string) => {
    const added = splitList(text).filter((x) => !values.includes(x));
    if (added.length) onChange([...values, ...added]);
    setDraft('');
  };
  return (
    <div class="namelist" data-name={name}>
      <div class="chips">
        {values.length === 0 && <span class="muted">{placeholder ?? t('none')}</span>}
        {values.map((v) => (
          <span class="chip" key={v}>
            {v}
            <button type="button" aria-label={t('Remove {name}', { name: v })} onClick={() => onChange(values.filter((x) => x !== v))}>×</button>
          </span>
        ))}
      </div>
      <div class="row">
        <input class="input" list={listId} value={draft} name={`${name}-input`} placeholder={t('Type a name, Enter to add')}
          onInput={(e) => {
            const text = (e.currentTarget as HTMLInputElement).value;
            if (/[,\n]/.test(text) || (suggestions.includes(text) && (e as InputEvent).inputType !== 'insertText')) add(text);
            else setDraft(text);
          }}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              add(draft);
            }
          }} />
        <button type="button" class="btn" onClick={() => add(draft)} disabled={!draft.trim()}>{t('Add')}</button>
      </div>
      <datalist id={listId}>
        {suggestions.filter((s) => !values.includes(s)).map((s) => <option key={s} value={s} />)}
      </datalist>
    </div>
  );
}

interface JsonProps {
  value: string;
  onChange: (value: string) => void;
  check: (text: string) => Check;
  rows?: number;
  name: string;
  placeholder?: string;
}

/** A JSON textarea that says at once whether its content is valid, with a "format" button. */
export function JsonEditor({ value, onChange, check, rows = 8, name, placeholder }: JsonProps) {
  const result = check(value);
  return (
    <div class="json-editor">
      <textarea class={result.ok ? 'input mono' : 'input mono invalid'} rows={rows} name={name} value={value}
        placeholder={placeholder} spellcheck={false}
        onInput={(e) => onChange((e.currentTarget as HTMLTextAreaElement).value)} />
      <div class="row between">
        <span class={result.ok ? 'field-hint ok' : 'field-error'} data-testid={`${name}-validity`}>
          {result.ok ? t('Valid JSON') : t('Invalid: {error}', { error: result.error })}
        </span>
        <button type="button" class="btn btn-small" disabled={!result.ok || !value.trim()} onClick={() => onChange(formatJson(value))}>
          {t('Format')}
        </button>
      </div>
    </div>
  );
}
