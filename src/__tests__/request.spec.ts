import { ServerConnection } from '@jupyterlab/services';
import { messageWithoutField } from '../components/ErrorBox';
import { APIError, requestAPI } from '../request';

function settingsAnswering(
  status: number,
  body: string
): ServerConnection.ISettings {
  const base = ServerConnection.makeSettings({ baseUrl: 'http://h/user/ann/' });
  const fetch = jest.fn(
    async (input: RequestInfo) =>
      ({
        ok: status >= 200 && status < 300,
        status,
        statusText: 'X',
        text: async () => body,
        url: typeof input === 'string' ? input : input.url
      }) as any
  );
  return { ...base, fetch: fetch as any };
}

describe('requestAPI', () => {
  it('calls the namespaced URL and parses JSON', async () => {
    const settings = settingsAnswering(200, '[{"name": "local"}]');
    const data = await requestAPI<any[]>('backends', {}, settings);
    expect(data).toEqual([{ name: 'local' }]);
    const url = (settings.fetch as jest.Mock).mock.calls[0][0];
    expect(String(url.url ?? url)).toContain(
      'http://h/user/ann/dask-cluster-launcher/backends'
    );
  });

  it('answers undefined for 204', async () => {
    const settings = settingsAnswering(204, '');
    await expect(
      requestAPI('clusters/x', { method: 'DELETE' }, settings)
    ).resolves.toBeUndefined();
  });

  it('throws the server message and field', async () => {
    const settings = settingsAnswering(
      400,
      '{"message": "options.threads_per_worker: 0 is less than the minimum of 1", "field": "options.threads_per_worker"}'
    );
    const error = await requestAPI<APIError>('clusters', {}, settings).catch(
      (e: APIError) => e
    );
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(400);
    expect(error.field).toBe('options.threads_per_worker');
    expect(messageWithoutField(error)).toBe('0 is less than the minimum of 1');
  });

  it('falls back to the status for non-JSON errors', async () => {
    const settings = settingsAnswering(500, '');
    const error = await requestAPI<APIError>('clusters', {}, settings).catch(
      (e: APIError) => e
    );
    expect(error.message).toBe('500 X');
    expect(error.field).toBeNull();
  });
});
