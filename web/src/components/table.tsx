// Listing helpers: One API pages are 10 rows with no total, so "next" is enabled while a page is full.
import type { ComponentChildren } from 'preact';
import { t } from '../lib/i18n';

export const PAGE_SIZE = 10;

interface PagerProps {
  page: number;
  rows: number;
  onPage: (page: number) => void;
  hidden?: boolean;
}

export function Pager({ page, rows, onPage, hidden }: PagerProps) {
  if (hidden) return null;
  return (
    <div class="pager">
      <button class="btn btn-small" disabled={page === 0} onClick={() => onPage(page - 1)}>‹ {t('Previous')}</button>
      <span class="muted">{t('Page {n}', { n: page + 1 })}</span>
      <button class="btn btn-small" disabled={rows < PAGE_SIZE} onClick={() => onPage(page + 1)}>{t('Next')} ›</button>
    </div>
  );
}

export function Empty({ loading, children }: { loading: boolean; children?: ComponentChildren }) {
  return <div class="empty">{loading ? t('Loading…') : children ?? t('Nothing here yet.')}</div>;
}

export function Badge({ tone, children }: { tone: 'green' | 'red' | 'grey' | 'blue' | 'orange'; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}
