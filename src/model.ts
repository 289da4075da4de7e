import type { TranslationBundle } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';
import { IClusterEventSource } from './events';
import { APIError, jsonBody, requestAPI } from './request';
import { translationBundle } from './translation';
import {
  CLUSTER_EVENT_SCHEMA,
  IBackend,
  ICluster,
  IClusterEvent,
  IClusterPatch,
  IJobLog,
  IRowsPatch,
  ILaunchRequest,
  IPreview,
  IProfile,
  IProfileRequest,
  IScaling,
  ISnippet
} from './types';

/** A read-only map of clusters by id. */
export type ClusterMap = ReadonlyMap<string, ICluster>;

/**
 * Apply one cluster event to a map of clusters (pure: returns a new map, or
 * the same map when nothing changed).
 */
export function applyClusterEvent(
  clusters: ClusterMap,
  event: IClusterEvent
): ClusterMap {
  if (event.action === 'removed') {
    if (!clusters.has(event.cluster_id)) {
      return clusters;
    }
    const next = new Map(clusters);
    next.delete(event.cluster_id);
    return next;
  }
  if (event.action === 'updated' && event.cluster) {
    const next = new Map(clusters);
    next.set(event.cluster_id, event.cluster);
    return next;
  }
  const current = clusters.get(event.cluster_id);
  if (event.action === 'changed' && event.changes && current) {
    const next = new Map(clusters);
    next.set(event.cluster_id, applyClusterPatch(current, event.changes));
    return next;
  }
  return clusters;
}

/** A cluster with a patch applied, as the server's `changes.apply` does. */
export function applyClusterPatch(
  cluster: ICluster,
  patch: IClusterPatch
): ICluster {
  const next: ICluster = { ...cluster, ...(patch.fields ?? {}) };
  if (patch.workers) {
    next.workers = applyRows(cluster.workers, patch.workers, w => w.name);
  }
  if (patch.jobs) {
    next.jobs = applyRows(cluster.jobs, patch.jobs, j => j.job_id);
  }
  return next;
}

/** Changed rows in place, new ones at the end, removed ones gone. */
function applyRows<T>(
  rows: T[],
  patch: IRowsPatch<T>,
  key: (row: T) => string
): T[] {
  const upserts = new Map((patch.upsert ?? []).map(row => [key(row), row]));
  const removed = new Set(patch.remove ?? []);
  const result: T[] = [];
  for (const row of rows) {
    const name = key(row);
    if (removed.has(name)) {
      continue;
    }
    result.push(upserts.get(name) ?? row);
    upserts.delete(name);
  }
  return result.concat([...upserts.values()]);
}

/** Turn a message of the event socket into a cluster event, or null if it is not one. */
export function toClusterEvent(
  emission: Record<string, any>
): IClusterEvent | null {
  const schemaId = (emission as any).schema_id;
  if (typeof schemaId !== 'string' || !isClusterSchema(schemaId)) {
    return null;
  }
  const { action, cluster_id, cluster, changes } = emission as any;
  if (
    (action !== 'updated' && action !== 'changed' && action !== 'removed') ||
    typeof cluster_id !== 'string'
  ) {
    return null;
  }
  return {
    action,
    cluster_id,
    cluster: cluster ?? undefined,
    changes: changes ?? undefined
  };
}

function isClusterSchema(schemaId: string): boolean {
  // Accept a trailing version path or slash, so the id may be versioned.
  return (
    schemaId === CLUSTER_EVENT_SCHEMA ||
    schemaId.replace(/\/(v\d+)?$/, '') === CLUSTER_EVENT_SCHEMA
  );
}

/** Clusters in the order the sidebar shows them: newest first. */
export function sortClusters(clusters: Iterable<ICluster>): ICluster[] {
  return Array.from(clusters).sort((a, b) =>
    a.created === b.created
      ? a.id.localeCompare(b.id)
      : a.created < b.created
        ? 1
        : -1
  );
}

/** The most recently created running cluster, if any. */
export function latestRunning(clusters: Iterable<ICluster>): ICluster | null {
  return sortClusters(clusters).find(c => c.state === 'running') ?? null;
}

/**
 * The profile the sidebar preselects: the user's `preferred` one (the
 * `defaultProfile` setting) if set and usable, else the one the server marks
 * `default`, else null. Broken profiles and profiles of unavailable backends
 * are skipped.
 */
export function preselectedProfile(
  profiles: IProfile[],
  backends: IBackend[],
  preferred = ''
): IProfile | null {
  const usable = profiles.filter(
    p => !p.error && backends.some(b => b.name === p.backend && b.available)
  );
  return (
    (preferred ? usable.find(p => p.name === preferred) : undefined) ??
    usable.find(p => p.default) ??
    null
  );
}

/**
 * The sidebar's state: the catalog (backends, profiles) and the clusters,
 * kept live from the server's cluster events.
 */
export class ClusterModel {
  constructor(options: ClusterModel.IOptions = {}) {
    this._events = options.events ?? null;
    this._trans = options.trans ?? translationBundle();
    this._events?.stream.connect(this._onEmission, this);
  }

  /** Emitted whenever the clusters change. */
  get clustersChanged(): ISignal<this, void> {
    return this._clustersChanged;
  }

  /** Emitted when backends or profiles were (re)loaded. */
  get catalogChanged(): ISignal<this, void> {
    return this._catalogChanged;
  }

  get clusters(): ClusterMap {
    return this._clusters;
  }

  /** Clusters, newest first. */
  get sortedClusters(): ICluster[] {
    return sortClusters(this._clusters.values());
  }

  get backends(): IBackend[] {
    return this._backends;
  }

  get profiles(): IProfile[] {
    return this._profiles;
  }

  /** Error of the last catalog or cluster load, if it failed. */
  get loadError(): string | null {
    return this._loadError;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._events?.stream.disconnect(this._onEmission, this);
    Signal.clearData(this);
  }

  cluster(id: string): ICluster | undefined {
    return this._clusters.get(id);
  }

  latestRunning(): ICluster | null {
    return latestRunning(this._clusters.values());
  }

  /** Load backends, profiles and clusters. */
  async refresh(): Promise<void> {
    await Promise.all([this.refreshCatalog(), this.refreshClusters()]);
  }

  async refreshCatalog(): Promise<void> {
    try {
      const [backends, profiles] = await Promise.all([
        requestAPI<IBackend[]>('backends'),
        requestAPI<IProfile[]>('profiles')
      ]);
      this._backends = backends ?? [];
      this._profiles = profiles ?? [];
      this._loadError = null;
    } catch (error) {
      this._loadError = this._trans.__(
        'Could not load backends: %1',
        (error as Error).message
      );
    }
    this._catalogChanged.emit();
  }

  /**
   * GET the clusters once; events that arrive meanwhile are queued and
   * applied on top, so nothing newer is overwritten by the snapshot.
   */
  async refreshClusters(): Promise<void> {
    this._pending = [];
    try {
      const list = await requestAPI<ICluster[]>('clusters');
      let clusters: ClusterMap = new Map(
        list.filter(c => !this._removed.has(c.id)).map(c => [c.id, c])
      );
      for (const event of this._pending) {
        clusters = applyClusterEvent(clusters, event);
      }
      this._setClusters(clusters);
    } catch (error) {
      this._loadError = this._trans.__(
        'Could not load clusters: %1',
        (error as Error).message
      );
      this._clustersChanged.emit();
    } finally {
      this._pending = null;
    }
  }

  /** Launch a cluster; the card shows at once (state `starting`). */
  async launch(request: ILaunchRequest): Promise<ICluster> {
    const cluster = await requestAPI<ICluster>(
      'clusters',
      jsonBody('POST', request)
    );
    // An event may already have brought a newer state: keep it.
    if (!this._clusters.has(cluster.id)) {
      this._upsert(cluster);
    }
    return cluster;
  }

  /** The code (and job script) a launch would use, with its scaling. */
  async preview(
    backend: string,
    options: Record<string, any>,
    scaling?: IScaling
  ): Promise<IPreview> {
    return requestAPI<IPreview>(
      'preview',
      jsonBody('POST', { backend, options, ...(scaling ? { scaling } : {}) })
    );
  }

  /** Reload the profiles only (after saving or deleting one). */
  async refreshProfiles(): Promise<void> {
    this._profiles = (await requestAPI<IProfile[]>('profiles')) ?? [];
    this._catalogChanged.emit();
  }

  /**
   * Save a user profile: a new one (POST), or over the user profile
   * `replaces` (PUT; the body's name may rename it). The profiles are
   * reloaded before this resolves, so the saved one can be selected.
   */
  async saveProfile(
    request: IProfileRequest,
    replaces?: string
  ): Promise<IProfile> {
    const saved = replaces
      ? await requestAPI<IProfile>(
          `profiles/${encodeURIComponent(replaces)}`,
          jsonBody('PUT', request)
        )
      : await requestAPI<IProfile>('profiles', jsonBody('POST', request));
    await this.refreshProfiles();
    return saved;
  }

  /** Delete a user profile (built-in and site ones answer 409). */
  async deleteProfile(name: string): Promise<void> {
    await requestAPI<void>(`profiles/${encodeURIComponent(name)}`, {
      method: 'DELETE'
    });
    await this.refreshProfiles();
  }

  async scale(id: string, workers: number): Promise<ICluster> {
    return this._patch(id, { workers });
  }

  async adapt(id: string, minimum: number, maximum: number): Promise<ICluster> {
    return this._patch(id, { adapt: { minimum, maximum } });
  }

  /** Stop a cluster; it disappears once the server has stopped it. */
  async stop(id: string): Promise<void> {
    const current = this._clusters.get(id);
    if (current && current.state !== 'failed') {
      this._upsert({ ...current, state: 'stopping' });
    }
    try {
      await requestAPI<void>(`clusters/${encodeURIComponent(id)}`, {
        method: 'DELETE'
      });
    } catch (error) {
      if (error instanceof APIError && error.status === 404) {
        // Already gone on the server (e.g. after a server restart).
        this.applyEvent({ action: 'removed', cluster_id: id });
        return;
      }
      // Show the server's state again rather than a stale "stopping".
      const now = this._clusters.get(id);
      if (current && now?.state === 'stopping') {
        this._upsert(current);
      }
      throw error;
    }
    this.applyEvent({ action: 'removed', cluster_id: id });
  }

  /** Client code for notebooks, made by the server. */
  async snippet(id: string): Promise<string> {
    return (await this.snippetFor(id)).code;
  }

  /**
   * Client code for a notebook running `kernel` (a kernelspec name): the server
   * also says when that kernel's versions differ from the cluster's.
   */
  async snippetFor(id: string, kernel?: string): Promise<ISnippet> {
    const query = kernel ? `?kernel=${encodeURIComponent(kernel)}` : '';
    return requestAPI<ISnippet>(
      `clusters/${encodeURIComponent(id)}/snippet${query}`
    );
  }

  /** The tail of a batch job's stdout and stderr files. */
  async jobLog(id: string, jobId: string): Promise<IJobLog> {
    return requestAPI<IJobLog>(
      `clusters/${encodeURIComponent(id)}/jobs/${encodeURIComponent(jobId)}/log`
    );
  }

  /** Apply a cluster event (public for tests). */
  applyEvent(event: IClusterEvent): void {
    if (this._pending) {
      this._pending.push(event);
    }
    // A late "updated" event must not bring back a cluster already removed.
    if (event.action === 'removed') {
      this._removed.add(event.cluster_id);
    } else if (this._removed.has(event.cluster_id)) {
      return;
    }
    this._setClusters(applyClusterEvent(this._clusters, event));
  }

  private async _patch(id: string, body: IScaling): Promise<ICluster> {
    const cluster = await requestAPI<ICluster>(
      `clusters/${encodeURIComponent(id)}`,
      jsonBody('PATCH', body)
    );
    this._upsert(cluster);
    return cluster;
  }

  /**
   * When the oldest server event not yet shown arrived (`performance.now()`),
   * and forget it: the sidebar calls this once React has committed a render,
   * and records the `dcl:sidebar-update` measure from it (see
   * `useSidebarUpdateMeasure`). null when no event changed the clusters since.
   */
  takeEventArrival(): number | null {
    const arrived = this._eventArrival;
    this._eventArrival = null;
    return arrived;
  }

  private _onEmission(_: unknown, emission: Record<string, any>): void {
    const arrived = performance.now();
    const event = toClusterEvent(emission);
    if (event) {
      // Set before applying (the signal may render at once); kept only when
      // the event changed something, or the next unrelated render would be
      // measured from this event. Events that arrive before a render are
      // measured from the first of them: that is how long the user waited.
      const before = this._clusters;
      const pending = this._eventArrival;
      this._eventArrival = pending ?? arrived;
      this.applyEvent(event);
      if (this._clusters === before) {
        this._eventArrival = pending;
      }
    }
  }

  private _upsert(cluster: ICluster): void {
    if (this._removed.has(cluster.id)) {
      return;
    }
    this._setClusters(
      applyClusterEvent(this._clusters, {
        action: 'updated',
        cluster_id: cluster.id,
        cluster
      })
    );
  }

  private _setClusters(clusters: ClusterMap): void {
    if (clusters === this._clusters) {
      return;
    }
    this._clusters = clusters;
    this._clustersChanged.emit();
  }

  private _events: IClusterEventSource | null;
  private _trans: TranslationBundle;
  private _clusters: ClusterMap = new Map();
  private _backends: IBackend[] = [];
  private _profiles: IProfile[] = [];
  private _loadError: string | null = null;
  private _pending: IClusterEvent[] | null = null;
  private _removed = new Set<string>();
  private _isDisposed = false;
  private _eventArrival: number | null = null;
  private _clustersChanged = new Signal<this, void>(this);
  private _catalogChanged = new Signal<this, void>(this);
}

export namespace ClusterModel {
  export interface IOptions {
    /** The server's cluster events (a `ClusterEventSocket`). */
    events?: IClusterEventSource;
    /** Translates the messages shown to the user. */
    trans?: TranslationBundle;
  }
}
