import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** URL namespace of the server extension. */
export const API_NAMESPACE = 'dask-cluster-launcher';

/**
 * An error answered by the server: `{"message": str, "field": str|null}`.
 *
 * `field` is the JSON path of the offending input (e.g.
 * `options.threads_per_worker`) for 400 answers.
 */
export class APIError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly field: string | null = null
  ) {
    super(message);
    this.name = 'APIError';
  }
}

/**
 * Call the server extension's REST API.
 *
 * @param endPoint path below `{baseUrl}dask-cluster-launcher/`
 * @param init request options (method, body, ...)
 * @returns the parsed JSON body, or `undefined` for an empty answer (204)
 * @throws APIError carrying the server's `message` and `field` on non-2xx
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ServerConnection.NetworkError(error as TypeError);
  }
  const text = await response.text();
  let data: any = undefined;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const message =
      data && typeof data === 'object' && typeof data.message === 'string'
        ? data.message
        : typeof data === 'string' && data
          ? data
          : `${response.status} ${response.statusText}`;
    const field =
      data && typeof data === 'object' && typeof data.field === 'string'
        ? data.field
        : null;
    throw new APIError(message, response.status, field);
  }
  return data as T;
}

/** JSON body helper for requestAPI. */
export function jsonBody(method: string, body: unknown): RequestInit {
  return {
    method,
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json' }
  };
}
