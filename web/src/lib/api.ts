// Calls to One API's /api routes: the {success, message, data} envelope, 401 handling, query strings.

export interface Envelope<T> {
  success: boolean;
  message: string;
  data: T;
  [extra: string]: unknown;
}

/** A refusal from the server (success:false) or a transport problem; `message` is shown to the user. */
export class ApiError extends Error {}

let onUnauthorized: () => void = () => {};

/** Called when the server answers 401 (not logged in): the app forgets the user and goes to the login page. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}${path.includes('?') ? '&' : '?'}${text}` : path;
}

async function send(method: string, path: string, body?: unknown): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(`network error: ${(error as Error).message}`);
  }
  if (response.status === 401) {
    onUnauthorized();
    throw new ApiError('not logged in');
  }
  if (response.status === 429) throw new ApiError('too many requests, try again later');
  return response;
}

/** The whole JSON answer, envelope or not (some routes put fields beside `data`). */
export async function request<T = unknown>(method: string, path: string, body?: unknown): Promise<Envelope<T>> {
  const response = await send(method, path, body);
  const text = await response.text();
  try {
    return JSON.parse(text) as Envelope<T>;
  } catch {
    throw new ApiError(`HTTP ${response.status}: ${text.slice(0, 200) || 'empty answer'}`);
  }
}

/**
 * `data` of a successful answer (null when the server sent none, so success is never `undefined`);
 * a refusal becomes an ApiError carrying the server's message.
 */
export async function call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const answer = await request<T>(method, path, body);
  if (!answer.success) throw new ApiError(answer.message || 'request failed');
  return (answer.data ?? null) as T;
}

export const get = <T = unknown>(path: string, query?: Query) => call<T>('GET', withQuery(path, query));
export const post = <T = unknown>(path: string, body?: unknown) => call<T>('POST', path, body ?? {});
export const put = <T = unknown>(path: string, body?: unknown) => call<T>('PUT', path, body ?? {});
export const del = <T = unknown>(path: string) => call<T>('DELETE', path);

/** A plain-text answer (the redemption export). */
export async function getText(path: string, query?: Query): Promise<string> {
  const response = await send('GET', withQuery(path, query));
  return response.text();
}
