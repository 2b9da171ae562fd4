// The list pages' table: a search box (with an optional sort), the rows, and One API's 10-row pager, hidden while a
// search shows its results. useSearchList holds the rows and loads them; SearchTable draws them from columns.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { attempt } from './feedback';
import { Empty, Pager } from './table';
import { get } from '../lib/api';
import { t } from '../lib/i18n';

export interface SearchList<T> {
  rows: T[];
  setRows: (update: (rows: T[]) => T[]) => void;
  /** Load the current page again (or the search results while searching). */
  load: (page?: number) => Promise<void>;
  page: number;
  setPage: (page: number) => void;
  order: string;
  setOrder: (order: string) => void;
  keyword: string;
  setKeyword: (keyword: string) => void;
  searching: boolean;
  search: (e: Event) => void;
  loading: boolean;
}

/** Rows of `listPath?p=&order=`, or of `searchPath?keyword=` once a keyword was searched. */
export function useSearchList<T>(listPath: string, searchPath: string): SearchList<T> {
  const [rows, setRows] = useState<T[]>([]);
  const [page, setPage] = useState(0);
  const [order, setOrder] = useState('');
  const [keyword, setKeyword] = useState('');
  const [searching, setSearching] = useState(false);
  const [loading, setLoading] = useState(true);

  const load = async (p = page) => {
    setLoading(true);
    const data = searching && keyword
      ? await attempt(() => get<T[]>(searchPath, { keyword }))
      : await attempt(() => get<T[]>(listPath, { p, order }));
    setLoading(false);
    if (data) setRows(data);
  };
  useEffect(() => {
    load();
  }, [page, order, searching]);

  const search = (e: Event) => {
    e.preventDefault();
    setPage(0);
    if (searching === !!keyword) load(0);
    setSearching(!!keyword);
  };
  return { rows, setRows, load, page, setPage, order, setOrder, keyword, setKeyword, searching, search, loading };
}

export interface Column<T> {
  title: ComponentChildren;
  cell: (row: T) => ComponentChildren;
  /** a number column: right-aligned heading and cells */
  num?: boolean;
  /** class of the cells only (e.g. "actions") */
  cellClass?: string;
  cellTitle?: (row: T) => string;
}

interface SearchTableProps<T> {
  list: SearchList<T>;
  columns: Column<T>[];
  rowKey: (row: T) => number;
  testId: string;
  placeholder: string;
  /** sort choices of the list route's `order` parameter: [value, label] */
  orders?: [string, string][];
  /** more toolbar controls after the search button */
  toolbar?: ComponentChildren;
  /** shown instead of the table when there are no rows (after loading) */
  empty?: ComponentChildren;
  rowAttrs?: (row: T) => Record<string, string>;
}

export function SearchTable<T>({ list, columns, rowKey, testId, placeholder, orders, toolbar, empty, rowAttrs }: SearchTableProps<T>) {
  return (
    <div class="card">
      <form class="toolbar" onSubmit={list.search}>
        <input class="input" placeholder={placeholder} value={list.keyword}
          onInput={(e) => list.setKeyword((e.currentTarget as HTMLInputElement).value)} />
        <button class="btn" type="submit">{t('Search')}</button>
        {orders && (
          <select class="input input-auto" value={list.order}
            onChange={(e) => { list.setOrder((e.currentTarget as HTMLSelectElement).value); list.setPage(0); }}>
            {orders.map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        )}
        {toolbar}
      </form>
      {list.rows.length === 0 ? <Empty loading={list.loading}>{empty}</Empty> : (
        <div class="table-wrap">
          <table class="table" data-testid={testId}>
            <thead>
              <tr>{columns.map((c, i) => <th key={i} class={c.num ? 'num' : undefined}>{c.title}</th>)}</tr>
            </thead>
            <tbody>
              {list.rows.map((row) => (
                <tr key={rowKey(row)} {...rowAttrs?.(row)}>
                  {columns.map((c, i) => (
                    <td key={i} class={c.num ? 'num' : c.cellClass} title={c.cellTitle?.(row)}>{c.cell(row)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={list.page} rows={list.rows.length} onPage={list.setPage} hidden={list.searching} />
    </div>
  );
}
