// The DataTables server-side protocol for every table that pages on the server: reads draw, start, length, order and
// search (clamped through services/paging.ts), and shapes the answer.
import type { Request } from 'express';
import { PAGING } from '../config.ts';
import { clampPage, safeWholeNumber, searchText, type Page } from '../services/paging.ts';

export interface DataTablesRequest extends Page {
  /** Echoed back so the browser can match answers to requests; 0 when missing or odd. */
  draw: number;
  /** Index of the sorted column, when one was given. */
  column: number | undefined;
  dir: 'asc' | 'desc';
}

export function dataTablesRequest(q: Request['query']): DataTablesRequest {
  const order = Array.isArray(q.order) ? (q.order[0] as { column?: unknown; dir?: unknown } | undefined) : undefined;
  return {
    ...clampPage(q.start, q.length, PAGING.maxLength),
    draw: safeWholeNumber(q.draw) ?? 0,
    column: safeWholeNumber(order?.column),
    dir: order?.dir === 'asc' ? 'asc' : 'desc',
  };
}

/** The sorted column's name: the column at the index the browser sent, or `fallback` for a missing or unknown index. */
export function sortColumn<C extends string>(columns: readonly C[], page: DataTablesRequest, fallback: C): C {
  return columns[page.column ?? 0] ?? fallback;
}

/** The answer DataTables expects: the echoed draw counter, both row counts and this page's rows. */
export function dataTablesResponse<R>(page: DataTablesRequest, result: { total: number; filtered: number }, data: R[]) {
  return { draw: page.draw, recordsTotal: result.total, recordsFiltered: result.filtered, data };
}

/** The search box's text: DataTables sends search[value], links and the API send search. */
export function searchFromQuery(q: Request['query']): string | undefined {
  const search = q.search as { value?: unknown } | string | undefined;
  return searchText(typeof search === 'object' && search !== null ? search.value : search);
}
