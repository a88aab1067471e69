// Reads the DataTables server-side protocol (draw, start, length, order, search) for every table that pages on the server.
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

/** The search box's text: DataTables sends search[value], links and the API send search. */
export function searchFromQuery(q: Request['query']): string | undefined {
  const search = q.search as { value?: unknown } | string | undefined;
  return searchText(typeof search === 'object' && search !== null ? search.value : search);
}
