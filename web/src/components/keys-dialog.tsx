// A list of keys (new redemption codes, an export) to copy at once or save as a text file.
import { t } from '../lib/i18n';
import { copyText } from './feedback';
import { Modal } from './modal';

export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function KeysDialog({ title, keys, fileName, onClose }: { title: string; keys: string[]; fileName: string; onClose: () => void }) {
  const text = keys.join('\n');
  return (
    <Modal title={title} onClose={onClose} wide footer={
      <>
        <button class="btn" onClick={() => download(fileName, `${text}\n`)}>{t('Download .txt')}</button>
        <button class="btn btn-primary" data-testid="copy-all-keys" onClick={() => copyText(text, t('{n} codes', { n: keys.length }))}>{t('Copy all')}</button>
      </>
    }>
      <p class="muted">{t('{n} codes, one per line.', { n: keys.length })}</p>
      <textarea class="input mono" rows={Math.min(14, keys.length + 1)} readOnly value={text} data-testid="keys-text"
        onFocus={(e) => (e.currentTarget as HTMLTextAreaElement).select()} />
    </Modal>
  );
}
