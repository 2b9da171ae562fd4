// Root's price import (#16): paste or upload a price file, or name a URL; preview the diff, then apply it.
import { useState } from 'preact/hooks';
import { attempt, toast } from './feedback';
import { Modal } from './modal';
import { post } from '../lib/api';
import { t } from '../lib/i18n';
import { changeLines, importBody, type ImportPreview } from '../lib/pricing';

function statusText(status: ImportPreview['models'][number]['status']): string {
  return status === 'added' ? t('added') : status === 'changed' ? t('changed') : t('unchanged');
}

export function PriceImport({ onClose, onApplied }: { onClose: () => void; onApplied: () => void }) {
  const [text, setText] = useState('');
  const [preview, setPreview] = useState<ImportPreview | null>(null);
  const [busy, setBusy] = useState(false);
  const body = (): unknown => {
    try {
      return importBody(text);
    } catch (e) {
      toast.error((e as Error).message);
      return undefined;
    }
  };
  const run = async (path: string) => {
    const payload = body();
    if (payload === undefined) return undefined;
    setBusy(true);
    const answer = await attempt(() => post<ImportPreview>(path, payload));
    setBusy(false);
    return answer;
  };
  const show = async () => setPreview((await run('/api/pricing/import/preview')) ?? null);
  const apply = async () => {
    if ((await run('/api/pricing/import')) !== undefined) {
      toast.success(t('Prices imported'));
      onApplied();
      onClose();
    }
  };
  const upload = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    if (file) {
      setText(await file.text());
      setPreview(null);
    }
  };
  const footer = (
    <>
      <button class="btn" disabled={busy || !text.trim()} onClick={show} data-testid="price-preview">{t('Preview')}</button>
      <button class="btn btn-primary" disabled={busy || !preview || preview.options.length === 0} onClick={apply} data-testid="price-apply">{t('Apply')}</button>
    </>
  );
  return (
    <Modal title={t('Import prices')} onClose={onClose} wide footer={footer}>
      <div class="stack">
        <p class="muted">{t('A price file (JSON, USD per 1M tokens, see docs/admin-api.md) or its https:// URL.')}</p>
        <input type="file" accept="application/json,.json" onChange={upload} />
        <textarea class="input mono" rows={8} name="price-file" value={text} placeholder={'{"models": {"claude-sonnet-4-6": {"input": 3, "output": 15, "cache_read": 0.3}}}'}
          onInput={(e) => { setText((e.currentTarget as HTMLTextAreaElement).value); setPreview(null); }} />
        {preview && (
          <div class="table-wrap">
            <table class="table" data-testid="price-diff">
              <thead><tr><th>{t('Model')}</th><th>{t('Status')}</th><th>{t('Changes')}</th></tr></thead>
              <tbody>
                {preview.models.map((row) => (
                  <tr key={row.model} data-model={row.model}>
                    <td>{row.model}</td>
                    <td>{statusText(row.status)}</td>
                    <td>{changeLines(row).map((line) => <div key={line}>{line}</div>)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <p class="muted">{preview.options.length ? t('Options to write: {list}', { list: preview.options.join(', ') }) : t('Nothing to change.')}</p>
          </div>
        )}
      </div>
    </Modal>
  );
}
