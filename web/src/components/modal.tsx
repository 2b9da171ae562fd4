// A dialog over the page: Escape or the backdrop closes it.
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import { t } from '../lib/i18n';

interface Props {
  title: ComponentChildren;
  onClose: () => void;
  footer?: ComponentChildren;
  wide?: boolean;
  children?: ComponentChildren;
}

export function Modal({ title, onClose, footer, wide, children }: Props) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);
  return (
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={wide ? 'modal modal-wide' : 'modal'} role="dialog" aria-modal="true">
        <div class="modal-head">
          <h3>{title}</h3>
          <button class="icon-btn" aria-label={t('Close')} onClick={onClose}>×</button>
        </div>
        <div class="modal-body">{children}</div>
        {footer && <div class="modal-foot">{footer}</div>}
      </div>
    </div>
  );
}
