// Toasts, a promise-based confirm dialog and copy-to-clipboard: the app's ways of answering a click.
import type { ComponentChildren } from 'preact';
import { ApiError } from '../lib/api';
import { t } from '../lib/i18n';
import { createStore, useStore } from '../lib/store';
import { Modal } from './modal';

interface Toast {
  id: number;
  kind: 'success' | 'error' | 'info';
  text: string;
}

const toasts = createStore<Toast[]>([]);
let nextId = 1;

function push(kind: Toast['kind'], text: string): void {
  const id = nextId++;
  toasts.set([...toasts.get(), { id, kind, text }]);
  setTimeout(() => toasts.set(toasts.get().filter((x) => x.id !== id)), kind === 'error' ? 6000 : 3500);
}

export const toast = {
  success: (text: string) => push('success', text),
  error: (text: string) => push('error', text),
  info: (text: string) => push('info', text),
};

/** Runs `action`; a refusal or network error becomes an error toast instead of an unhandled rejection. */
export async function attempt<T>(action: () => Promise<T>): Promise<T | undefined> {
  try {
    return await action();
  } catch (error) {
    toast.error(error instanceof ApiError ? error.message : String((error as Error)?.message ?? error));
    return undefined;
  }
}

export function Toasts() {
  const list = useStore(toasts);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {list.map((x) => (
        <div key={x.id} class={`toast toast-${x.kind}`}>
          {x.text}
        </div>
      ))}
    </div>
  );
}

interface Pending {
  message: ComponentChildren;
  danger: boolean;
  resolve: (ok: boolean) => void;
}

const pending = createStore<Pending | null>(null);

/** Asks the user; resolves true when they confirm. */
export function confirmAction(message: ComponentChildren, danger = true): Promise<boolean> {
  return new Promise((resolve) => pending.set({ message, danger, resolve }));
}

export function ConfirmHost() {
  const current = useStore(pending);
  if (!current) return null;
  const close = (ok: boolean) => {
    pending.set(null);
    current.resolve(ok);
  };
  return (
    <Modal
      title={t('Please confirm')}
      onClose={() => close(false)}
      footer={
        <>
          <button class="btn" onClick={() => close(false)}>{t('Cancel')}</button>
          <button class={current.danger ? 'btn btn-danger' : 'btn btn-primary'} onClick={() => close(true)} data-testid="confirm-ok">
            {t('Confirm')}
          </button>
        </>
      }
    >
      <p>{current.message}</p>
    </Modal>
  );
}

const manualCopy = createStore<string | null>(null);

/** Copies `text`; when the browser refuses, shows it in a dialog to copy by hand. */
export async function copyText(text: string, what?: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    toast.success(what ? t('{what} copied', { what }) : t('Copied'));
    return true;
  } catch {
    manualCopy.set(text);
    return false;
  }
}

export function ManualCopyHost() {
  const text = useStore(manualCopy);
  if (text === null) return null;
  return (
    <Modal title={t('Copy this by hand')} onClose={() => manualCopy.set(null)}>
      <p class="muted">{t('The browser did not allow copying to the clipboard.')}</p>
      <textarea class="input mono" rows={Math.min(12, text.split('\n').length + 1)} readOnly value={text}
        onFocus={(e) => (e.currentTarget as HTMLTextAreaElement).select()} />
    </Modal>
  );
}
